// Package composetest holds only tests: it checks the packaging files at the
// repository root against the code, without a Docker engine or a cluster.
//
//   - Dockerfile: the build command it runs is run here too, on the build context that
//     .dockerignore leaves, and must yield a static binary; the final stage needs no shell
//     and runs as non-root.
//   - docker-compose.yml: every mounted file exists, the Keycloak realm has what the
//     proxy needs, and the proxy's config passes check-config (config.Load, then
//     app.New) as the container sees it, consistent with the other services.
//   - configs/systemd: the unit's key settings, systemd-analyze verify when present, and
//     config.yaml passes check-config with the unit's credentials in place.
//   - configs/kubernetes: kinds, probes on the metrics port, security context, and the
//     ConfigMap's config passes check-config with the Secrets mounted where the
//     Deployment mounts them.
package composetest
