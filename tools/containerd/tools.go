//go:build tools

// Package tools pins containerd v2 so that `go build` can build its commands
// (containerd, containerd-shim-runc-v2, ctr) from the Go module proxy. It is a module of its
// own because containerd's dependency pins differ from Kubernetes' and etcd's.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
