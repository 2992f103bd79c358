module github.com/geocloak/geocloak

go 1.26.8

require (
	github.com/uber/h3-go/v4 v4.5.0
	go.yaml.in/yaml/v3 v3.0.6
)
