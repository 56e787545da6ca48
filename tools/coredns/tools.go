//go:build tools

// Package tools pins CoreDNS so that `go build github.com/coredns/coredns` builds the cluster
// DNS server from the Go module proxy, in a module of its own (its pins differ from Kubernetes').
package tools

import _ "github.com/coredns/coredns"
