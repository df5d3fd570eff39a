// Command pause is the sandbox process of every pod on the test node: it holds the pod's
// namespaces, reaps the orphans it inherits as PID 1, and exits on SIGINT or SIGTERM.
// Built static (CGO_ENABLED=0) and shipped alone in an image FROM scratch.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for received := range signals {
		if received != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
