package perf

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// countVisits reads a visitors-today answer token by token (never whole)
// and counts its visits.
func countVisits(resp *http.Response) (int, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("visitors-today: %s", resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		tok, err := dec.Token()
		if err != nil {
			return 0, fmt.Errorf("visitors-today: %w", err)
		}
		if tok == "visits" {
			break
		}
	}
	if _, err := dec.Token(); err != nil { // [
		return 0, err
	}
	n := 0
	for dec.More() {
		var v struct{ ID string }
		if err := dec.Decode(&v); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
