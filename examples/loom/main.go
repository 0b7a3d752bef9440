// Command loom is the design document's project in miniature: a Go
// backend that serves its pages from web/static and its personas, read
// from personas/*/PERSONA.md on every request, as JSON.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"path/filepath"
)

// greeting is what the page says; edit it and watch the page follow.
const greeting = "Hello from loom"

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	http.Handle("/", http.FileServer(http.Dir("web/static")))
	http.HandleFunc("/api/v1/greeting", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"greeting": greeting})
	})
	http.HandleFunc("/api/v1/personas", personas)
	log.Printf("loom: listening on http://%s/", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

// personas answers every personas/NAME/PERSONA.md, by NAME.
func personas(w http.ResponseWriter, r *http.Request) {
	files, err := filepath.Glob("personas/*/PERSONA.md")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	found := map[string]string{}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		found[filepath.Base(filepath.Dir(file))] = string(text)
	}
	reply(w, found)
}

func reply(w http.ResponseWriter, value interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(value); err != nil {
		log.Printf("loom: %v", err)
	}
}
