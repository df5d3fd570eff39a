//go:build tools

// Package tools pins etcd at the version k8s.io/apiserver of tools/k8s requires.
package tools

import _ "go.etcd.io/etcd/server/v3"
