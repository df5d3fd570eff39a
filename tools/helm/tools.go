//go:build tools

// Package tools pins the Helm CLI used to lint, template and install the chart in tests.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
