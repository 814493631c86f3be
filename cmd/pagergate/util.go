package main

import (
	"encoding/base64"
	"strings"
)

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func trimSlash(s string) string { return strings.TrimRight(s, "/") }
