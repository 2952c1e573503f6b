//go:build !unix

package bots

import "time"

func selfCPU() (time.Duration, bool) { return 0, false }
