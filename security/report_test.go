package security

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseReport(t *testing.T) {
	tests := []struct {
		file, scanner, image, digest string
		findings                     []Finding
	}{
		{"trivy-pytorch.json", ScannerTrivy, "acr1.azurecr.io/train/pytorch:2.1", "sha256:9d2a4f6b1c3e5a7d9f0b2c4e6a8d0f1b3c5e7a9d1f3b5c7e9a0c2e4a6b8d0f2c", []Finding{
			{ID: "CVE-2023-32681", Package: "requests", InstalledVersion: "2.28.1", FixedVersion: "2.31.0", Severity: "Medium", ScannerSeverity: "MEDIUM"},
			{ID: "CVE-2023-45853", Package: "zlib1g", InstalledVersion: "1:1.2.13.dfsg-1", Severity: "High", ScannerSeverity: "CRITICAL"},
			{ID: "CVE-2023-4911", Package: "libc6", InstalledVersion: "2.36-9+deb12u1", FixedVersion: "2.36-9+deb12u3", Severity: "High", ScannerSeverity: "HIGH"},
			{ID: "CVE-2023-5678", Package: "openssl", InstalledVersion: "3.0.11-1~deb12u1", FixedVersion: "3.0.13-1~deb12u1", Severity: "Medium", ScannerSeverity: "MEDIUM"},
			{ID: "CVE-2024-0727", Package: "openssl", InstalledVersion: "3.0.11-1~deb12u1", FixedVersion: "3.0.13-1~deb12u1", Severity: "Low", ScannerSeverity: "LOW"},
		}},
		{"trivy-pytorch-clean.json", ScannerTrivy, "acr1.azurecr.io/train/pytorch:2.1", "sha256:1f3b5c7e9a0c2e4a6b8d0f2c9d2a4f6b1c3e5a7d9f0b2c4e6a8d0f1b7c3e5a9d", []Finding{}},
		{"grype-api.json", ScannerGrype, "acr1.azurecr.io/serve/api:1.4", "sha256:6b8d0f2c9d2a4f6b1c3e5a7d9f0b2c4e6a8d0f1b7c3e5a9d1f3b5c7e9a0c2e4a", []Finding{
			{ID: "CVE-2022-3715", Package: "bash", InstalledVersion: "5.2.15-2+b2", Severity: "Low", ScannerSeverity: "Negligible"},
			{ID: "CVE-2023-38545", Package: "libcurl4", InstalledVersion: "7.88.1-10+deb12u1", FixedVersion: "7.88.1-10+deb12u4", Severity: "High", ScannerSeverity: "Critical"},
			{ID: "CVE-2023-38546", Package: "libcurl4", InstalledVersion: "7.88.1-10+deb12u1", FixedVersion: "7.88.1-10+deb12u4", Severity: "Low", ScannerSeverity: "Low"},
			{ID: "CVE-2023-4863", Package: "libwebp7", InstalledVersion: "1.2.4-0.2", FixedVersion: "1.2.4-0.2+deb12u1", Severity: "High", ScannerSeverity: "High"},
		}},
		{"grype-api-clean.json", ScannerGrype, "acr1.azurecr.io/serve/api:1.4", "sha256:8d0f2c9d2a4f6b1c3e5a7d9f0b2c4e6a8d0f1b7c3e5a9d1f3b5c7e9a0c2e4a6b", []Finding{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			imp, err := ParseReport(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if imp.Scanner != tt.scanner || imp.Image != tt.image || imp.ImageDigest != tt.digest {
				t.Errorf("scanner %q image %q digest %q", imp.Scanner, imp.Image, imp.ImageDigest)
			}
			// Titles, descriptions and links are carried; compared apart.
			got := make([]Finding, len(imp.Findings))
			for i, f := range imp.Findings {
				if f.Description == "" || f.Link == "" {
					t.Errorf("%s %s: no description or link", f.ID, f.Package)
				}
				f.Title, f.Description, f.Link = "", "", ""
				got[i] = f
			}
			if diff := cmp.Diff(tt.findings, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReportErrors(t *testing.T) {
	tests := []struct {
		name, doc, pointer, contains string
	}{
		{"not JSON", `{"SchemaVersion": 2,`, "", "not valid JSON"},
		{"SARIF", `{"version":"2.1.0","runs":[]}`, "", "SARIF"},
		{"trivy schema 1", `{"SchemaVersion":1,"ArtifactName":"x","Results":[]}`, "/SchemaVersion", "version 2"},
		{"trivy no artifact", `{"SchemaVersion":2,"Results":[]}`, "/ArtifactName", "missing"},
		{"trivy filesystem", `{"SchemaVersion":2,"ArtifactName":".","ArtifactType":"filesystem","Results":[]}`, "/ArtifactType", "container image"},
		{"trivy no id", `{"SchemaVersion":2,"ArtifactName":"a:1","Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","Severity":"LOW"},{"PkgName":"p","Severity":"LOW"}]}]}`, "/Results/0/Vulnerabilities/1/VulnerabilityID", "missing"},
		{"trivy no package", `{"SchemaVersion":2,"ArtifactName":"a:1","Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":"LOW"}]}]}`, "/Results/0/Vulnerabilities/0/PkgName", "missing"},
		{"trivy bad severity", `{"SchemaVersion":2,"ArtifactName":"a:1","Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","Severity":"SEVERE"}]}]}`, "/Results/0/Vulnerabilities/0/Severity", "SEVERE"},
		{"trivy wrong type", `{"SchemaVersion":2,"ArtifactName":"a:1","Results":[{"Vulnerabilities":[{"VulnerabilityID":7}]}]}`, "/Results/Vulnerabilities/VulnerabilityID", "number"},
		{"grype no source", `{"matches":[]}`, "/source", "missing"},
		{"grype directory", `{"matches":[],"source":{"type":"directory","target":"/src"}}`, "/source/type", "only image"},
		{"grype target not an object", `{"matches":[],"source":{"target":"/src"}}`, "/source/target", "userInput"},
		{"grype no image", `{"matches":[],"source":{"type":"image","target":{}}}`, "/source/target/userInput", "missing"},
		{"grype no id", `{"matches":[{"vulnerability":{"severity":"High"},"artifact":{"name":"p"}}],"source":{"type":"image","target":{"userInput":"a:1"}}}`, "/matches/0/vulnerability/id", "missing"},
		{"grype no artifact", `{"matches":[{"vulnerability":{"id":"CVE-1","severity":"High"},"artifact":{}}],"source":{"type":"image","target":{"userInput":"a:1"}}}`, "/matches/0/artifact/name", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReport([]byte(tt.doc))
			var re *ReportError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *ReportError", err)
			}
			if re.Pointer != tt.pointer || !containsFold(re.Msg, tt.contains) {
				t.Errorf("got %q at %q, want %q at %q", re.Msg, re.Pointer, tt.contains, tt.pointer)
			}
		})
	}
}

func containsFold(s, sub string) bool {
	return len(sub) == 0 || indexFold(s, sub) >= 0
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func TestRepositoryOf(t *testing.T) {
	for in, want := range map[string]string{
		"acr1.azurecr.io/train/pytorch:2.1":     "train/pytorch",
		"localhost:5000/app@sha256:abc":         "app",
		"library/python:3.11":                   "library/python",
		"python":                                "python",
		"acr1.azurecr.io/app:1@sha256:abcdef01": "app",
	} {
		if got := repositoryOf(in); got != want {
			t.Errorf("repositoryOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	for _, n := range []string{"trivy-pytorch.json", "grype-api.json", "trivy-pytorch-clean.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := ParseReport(data)
		if err == nil && (imp.Image == "" || imp.Findings == nil) {
			t.Fatalf("accepted a report without an image or findings: %+v", imp)
		}
	})
}

func BenchmarkParseReport(b *testing.B) {
	for _, n := range []string{"trivy-pytorch.json", "grype-api.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(n, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if _, err := ParseReport(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
