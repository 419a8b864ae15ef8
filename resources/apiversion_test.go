package resources

import "testing"

func TestValidAPIVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"2024-04-01": true, "2025-01-01-preview": true, "2021-06-01-privatepreview": true, "2023-03-01-alpha": true,
		"2023-03-01-beta": true, "2023-03-01-rc": true, "2014-04-01-preview": true,
		"2024-02-30": false, "2023-02-29": false, "2024-13-01": false, "2024-00-10": false, "2024-01-00": false,
		"1999-01-01": true, "2024-4-1": false, "2024-04-01-Preview2": false,
		"2024-04-01-": false, " 2024-04-01": false, "2024-04-01\n": false, "latest": false, "": false,
		"2024-04-01-preview-preview": false, "２０２４-04-01": false,
	} {
		if got := ValidAPIVersion(v); got != want {
			t.Errorf("ValidAPIVersion(%q) = %v, want %v", v, got, want)
		}
	}
}
