//go:build !linux

package cli

import (
	"errors"
	"net"
)

func netnsUnavailable() string { return "network namespaces are Linux's" }

func newNetns() (string, error) { return "", errors.New(netnsUnavailable()) }

func deleteNetns(string) {}

func listenInNetns(string, string) (net.Listener, error) { return nil, errors.New(netnsUnavailable()) }

func cleanStaleNetns() int { return 0 }
