//go:build unix && !linux

package cli

const mapPopulate = 0
