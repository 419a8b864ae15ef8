.PHONY: build serve test demo bench

build:
	go build -o mlgov ./cmd/mlgov

# The main job: the control plane over HTTPS with embedded SQLite in
# ./mlgov-data (bootstrap.json there has the credentials). Built-in policy
# definitions and aliases are read from ../shared when present.
serve:
	go run ./cmd/mlgov serve --data ./mlgov-data --listen 127.0.0.1:8443

# Every test: vet, build, bounded fuzzing, unit + conformance suites.
test:
	./scripts/test.sh

# The main job: evaluate the 26 Machine Learning built-ins (read in place from
# ../shared) against the example resources of examples/ml-resources.json.
demo:
	go run ./cmd/mlgov policy eval \
	  --definition "../shared/corpus/azure-policy/policyDefinitions/Machine Learning" \
	  --parameters examples/ml-parameters.json \
	  --resource examples/ml-resources.json \
	  --related examples/ml-related.json

bench:
	go test -run '^$$' -bench . -benchmem ./policy/...
