module github.com/privrec/privrec

go 1.25.0

require (
	github.com/google/differential-privacy/go/v2 v2.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/golang/glog v1.1.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/exp v0.0.0-20230321023759-10a507213a29 // indirect
	gonum.org/v1/gonum v0.12.0 // indirect
)
