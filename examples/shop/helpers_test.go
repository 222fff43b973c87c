package main

import "os"

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "privrec-shop-test-") }
