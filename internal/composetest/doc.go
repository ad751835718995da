// Package composetest holds only tests: it checks the packaging files at the
// repository root against the code, without a Docker engine or a cluster.
//
//   - Dockerfile: the build command it runs is run here too, on the build context that
//     .dockerignore leaves, and must yield a static binary; the final stage needs no shell
//     and runs as non-root.
//   - docker-compose.yml: every mounted file exists, the Keycloak realm has what the
//     proxy needs, and the proxy's config loads with config.Load as the container sees it.
//   - configs/systemd: systemd-analyze verify, when present.
//   - configs/kubernetes: kinds, probes on the metrics port, and the ConfigMap's config
//     loads with the Secrets mounted where the Deployment mounts them.
package composetest
