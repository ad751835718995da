package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix starts every environment override: XMPP_OAUTH_PROXY_OAUTH_CLIENT_SECRET
// sets oauth.client_secret.
const EnvPrefix = "XMPP_OAUTH_PROXY"

// Load reads path, applies environment overrides and defaults, reads secret files
// and validates the result. Every error names the file and the offending key.
func Load(path string) (*Config, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// Env overrides only reach keys viper knows: register every scalar key.
	registerDefaults(v, "", reflect.ValueOf(Default()))
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := Default()
	err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, describeDecodeError(err))
	}
	for i := range cfg.Domains {
		cfg.Domains[i].Upstream = DefaultUpstream(cfg.Domains[i].Upstream)
	}
	if abs, err := filepath.Abs(path); err == nil {
		cfg.resolvePaths(filepath.Dir(abs))
	}
	if err := cfg.readSecretFiles(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &cfg, nil
}

func registerDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("mapstructure")
		if prefix != "" {
			key = prefix + "." + key
		}
		f := val.Field(i)
		switch f.Kind() {
		case reflect.Struct:
			registerDefaults(v, key, f)
		case reflect.Slice:
			// Lists come from the file only.
		default:
			v.SetDefault(key, f.Interface())
		}
	}
}

// describeDecodeError turns mapstructure's report into one line per problem,
// e.g. `unknown key "oauth.clien_id"`.
func describeDecodeError(err error) string {
	var problems []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed") || strings.HasSuffix(line, "error(s) decoding:") {
			continue
		}
		if parent, keys, ok := strings.Cut(line, " has invalid keys: "); ok {
			parent = strings.Trim(parent, "'\"")
			for _, k := range strings.Split(keys, ", ") {
				full := k
				if parent != "" {
					full = parent + "." + k
				}
				problems = append(problems, fmt.Sprintf("unknown key %q", full))
			}
			continue
		}
		problems = append(problems, line)
	}
	if len(problems) == 0 {
		return err.Error()
	}
	return strings.Join(problems, "; ")
}

func (c *Config) readSecretFiles() error {
	if err := c.readStoreSecrets(); err != nil {
		return err
	}
	if err := readSecret(&c.OAuth.ClientSecret, c.OAuth.ClientSecretFile, "oauth.client_secret"); err != nil {
		return err
	}
	for i := range c.Domains {
		u := &c.Domains[i].Upstream
		key := fmt.Sprintf("domains[%d].upstream.", i)
		if err := readSecret(&u.SecretKey, u.SecretKeyFile, key+"secret_key"); err != nil {
			return err
		}
		if err := readSecret(&u.AdminPassword, u.AdminPasswordFile, key+"admin_password"); err != nil {
			return err
		}
	}
	return nil
}

// readSecret fills *value from file; the error never carries the secret itself.
func readSecret(value *string, file, key string) error {
	if file == "" {
		return nil
	}
	if *value != "" {
		return fmt.Errorf("%s and %s_file are both set: keep one", key, key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s_file: %w", key, errors.Unwrap(err))
	}
	*value = strings.TrimRight(string(b), "\r\n")
	if *value == "" {
		return fmt.Errorf("%s_file: %s is empty", key, file)
	}
	return nil
}

// resolvePaths makes relative file names relative to the config file's directory,
// so a config works whatever the current directory is.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.TLS.SessionTicketKeysFile)
	for i := range c.TLS.Certificates {
		abs(&c.TLS.Certificates[i].CertFile)
		abs(&c.TLS.Certificates[i].KeyFile)
	}
	for i := range c.Domains {
		u := &c.Domains[i].Upstream
		abs(&u.CAFile)
		abs(&u.SecretKeyFile)
		abs(&u.AdminPasswordFile)
	}
	abs(&c.OAuth.CAFile)
	abs(&c.OAuth.ClientSecretFile)
	abs(&c.Store.Path)
	abs(&c.Store.DSNFile)
	abs(&c.Store.SecretKeyFile)
	abs(&c.Store.EncryptionKeysFile)
	c.resolvePortalPaths(abs)
}
