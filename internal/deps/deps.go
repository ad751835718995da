//go:build tools

// Package deps pins modules that packages are about to use; removed once all are imported.
package deps

import (
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/hashicorp/golang-lru/v2/expirable"
	_ "github.com/pires/go-proxyproto"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/rs/zerolog"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "github.com/xdg-go/scram"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/sync/singleflight"
	_ "golang.org/x/text/secure/precis"
	_ "gosrc.io/xmpp"
	_ "mellium.im/xmpp"
)
