# Sourced by .ci/run before `make test`: tools the tests need besides Python.
#
# helm, for the chart tests (helm lint / helm template). Built from the Go module proxy with
# `go install`, with the same link flags as helm's release binaries (its version, and the
# Kubernetes version its client-go targets as the default for template/lint). Idempotent:
# nothing happens when that helm is already in $(go env GOPATH)/bin.
#
# promtool, for the chart's alert tests (promtool check rules / test rules), from Prometheus'
# Go module (its v0.3MM.P tags are Prometheus 3.MM.P), stamped with its version the same way.

nexus_install_helm() {
  local version=v3.21.4
  local k8s_major=1 k8s_minor=36  # helm v3.21.4 builds against k8s.io/client-go v0.36
  local gobin
  if ! command -v go >/dev/null 2>&1; then
    echo ".ci/tools.sh: go is needed to install helm $version" >&2
    return 1
  fi
  gobin="$(go env GOPATH)/bin"
  if [ "$("$gobin/helm" version --template '{{.Version}}' 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "installing helm $version with go install (a few minutes the first time)"
  local pkg=helm.sh/helm/v3
  GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w \
    -X $pkg/internal/version.version=$version \
    -X $pkg/pkg/lint/rules.k8sVersionMajor=$k8s_major \
    -X $pkg/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
    -X $pkg/pkg/chartutil.k8sVersionMajor=$k8s_major \
    -X $pkg/pkg/chartutil.k8sVersionMinor=$k8s_minor" \
    "$pkg/cmd/helm@$version"
  "$gobin/helm" version --short
}

nexus_install_promtool() {
  local module=v0.316.0 version=3.16.0
  local gobin
  if ! command -v go >/dev/null 2>&1; then
    echo ".ci/tools.sh: go is needed to install promtool $version" >&2
    return 1
  fi
  gobin="$(go env GOPATH)/bin"
  if "$gobin/promtool" --version 2>/dev/null | grep -q "^promtool, version $version "; then
    return 0
  fi
  echo "installing promtool $version with go install (a few minutes the first time)"
  GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w \
    -X github.com/prometheus/common/version.Version=$version" \
    "github.com/prometheus/prometheus/cmd/promtool@$module"
  "$gobin/promtool" --version | head -1
}

nexus_install_helm
nexus_install_promtool
export PATH="$(go env GOPATH)/bin:$PATH"
