package composetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sObject is the part of a manifest these tests read; Spec is decoded per kind.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Type       string            `yaml:"type"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
	file       string
}

type deploymentSpec struct {
	Replicas int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	SecurityContext securityContext `yaml:"securityContext"`
	Containers      []container     `yaml:"containers"`
	Volumes         []volume        `yaml:"volumes"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

type keyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name  string      `yaml:"name"`
		Items []keyToPath `yaml:"items"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string      `yaml:"secretName"`
		Items      []keyToPath `yaml:"items"`
	} `yaml:"secret"`
}

type serviceSpec struct {
	Type                  string            `yaml:"type"`
	ExternalTrafficPolicy string            `yaml:"externalTrafficPolicy"`
	Selector              map[string]string `yaml:"selector"`
	Ports                 []servicePort     `yaml:"ports"`
}

type servicePort struct {
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"` // a number or a port name
	Protocol   string `yaml:"protocol"`
}

// tlsSecretName is the one Secret the manifests use but do not define: it comes from
// `kubectl create secret tls` or cert-manager (secret.example.yaml says so).
const tlsSecretName = "xmpp-oauth-proxy-tls"

func loadManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "configs", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in configs/kubernetes: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(readFile(t, f)))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", f)
			}
			o.file = filepath.Base(f)
			objs = append(objs, o)
		}
	}
	return objs
}

func find(objs []k8sObject, kind, name string) *k8sObject {
	for i := range objs {
		if objs[i].Kind == kind && objs[i].Metadata.Name == name {
			return &objs[i]
		}
	}
	return nil
}

func decodeSpec[T any](t *testing.T, o *k8sObject) T {
	t.Helper()
	var s T
	if err := o.Spec.Decode(&s); err != nil {
		t.Fatalf("%s %s: spec: %v", o.Kind, o.Metadata.Name, err)
	}
	return s
}

// secretData returns a Secret's values, decoded.
func secretData(t *testing.T, o *k8sObject) map[string]string {
	t.Helper()
	m := map[string]string{}
	for k, v := range o.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("Secret %s: data.%s is not base64", o.Metadata.Name, k)
		}
		m[k] = string(b)
	}
	for k, v := range o.StringData {
		m[k] = v
	}
	return m
}

// deployedSecretData is a Secret's data as an admin deploys it: the example's
// secret-key placeholder (refused by the proxy, as TestPublishedKeysRefused in
// internal/config shows) replaced by a key made with openssl rand -base64 32.
func deployedSecretData(t *testing.T, o *k8sObject) map[string]string {
	t.Helper()
	m := secretData(t, o)
	if _, ok := m["secret-key"]; ok {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		m["secret-key"] = base64.StdEncoding.EncodeToString(key)
	}
	return m
}

func theDeployment(t *testing.T, objs []k8sObject) (deploymentSpec, container) {
	t.Helper()
	var deps []*k8sObject
	for i := range objs {
		if objs[i].Kind == "Deployment" {
			deps = append(deps, &objs[i])
		}
	}
	if len(deps) != 1 {
		t.Fatalf("want one Deployment, got %d", len(deps))
	}
	spec := decodeSpec[deploymentSpec](t, deps[0])
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Template.Spec.Containers))
	}
	return spec, spec.Template.Spec.Containers[0]
}

// containerPort resolves a probe's or a Service's port (number or name).
func containerPort(c container, port string) int {
	for _, p := range c.Ports {
		if p.Name == port || strconv.Itoa(p.ContainerPort) == port {
			return p.ContainerPort
		}
	}
	return 0
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

func TestKubernetesManifests(t *testing.T) {
	objs := loadManifests(t)
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "Secret"} {
		if !slices.ContainsFunc(objs, func(o k8sObject) bool { return o.Kind == kind }) {
			t.Errorf("no %s in configs/kubernetes", kind)
		}
	}
	spec, c := theDeployment(t, objs)
	if spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", spec.Replicas)
	}
	labels := spec.Template.Metadata.Labels
	for k, v := range spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("Deployment selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}

	// Probes: GET /healthz and /readyz on the metrics port.
	for _, pr := range []struct {
		name, path string
		p          *probe
	}{{"livenessProbe", "/healthz", c.LivenessProbe}, {"readinessProbe", "/readyz", c.ReadinessProbe}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", pr.name)
			continue
		}
		if pr.p.HTTPGet.Path != pr.path {
			t.Errorf("%s path %q, want %q", pr.name, pr.p.HTTPGet.Path, pr.path)
		}
		if got := containerPort(c, pr.p.HTTPGet.Port); got != 9090 {
			t.Errorf("%s port %q is container port %d, want the metrics port 9090", pr.name, pr.p.HTTPGet.Port, got)
		}
	}

	// Non-root, read-only, no privilege escalation, no capabilities.
	pod, sc := spec.Template.Spec.SecurityContext, c.SecurityContext
	if !isTrue(pod.RunAsNonRoot) && !isTrue(sc.RunAsNonRoot) {
		t.Errorf("runAsNonRoot is not set")
	}
	for _, uid := range []*int64{pod.RunAsUser, sc.RunAsUser} {
		if uid != nil && *uid == 0 {
			t.Errorf("runAsUser 0")
		}
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("readOnlyRootFilesystem is not true")
	}
	if !isFalse(sc.AllowPrivilegeEscalation) {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("capabilities are not all dropped")
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no resources.requests.%s", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Errorf("no resources.limits.memory")
	}

	// The LoadBalancer carries both client ports, TCP, to this pod.
	var lb *serviceSpec
	for i := range objs {
		if objs[i].Kind != "Service" {
			continue
		}
		s := decodeSpec[serviceSpec](t, &objs[i])
		for k, v := range s.Selector {
			if labels[k] != v {
				t.Errorf("Service %s selector %s=%s matches no pod", objs[i].Metadata.Name, k, v)
			}
		}
		for _, p := range s.Ports {
			if containerPort(c, p.TargetPort) == 0 {
				t.Errorf("Service %s targetPort %q is no container port", objs[i].Metadata.Name, p.TargetPort)
			}
		}
		if s.Type == "LoadBalancer" {
			lb = &s
		}
	}
	if lb == nil {
		t.Fatal("no Service of type LoadBalancer")
	}
	for _, want := range []int{5222, 5223, 5281} {
		if !slices.ContainsFunc(lb.Ports, func(p servicePort) bool {
			return p.Port == want && p.Protocol == "TCP" && containerPort(c, p.TargetPort) == want
		}) {
			t.Errorf("the LoadBalancer does not carry TCP %d to container port %d", want, want)
		}
	}
	if slices.ContainsFunc(lb.Ports, func(p servicePort) bool { return containerPort(c, p.TargetPort) == 9090 }) {
		t.Errorf("the LoadBalancer exposes the metrics port")
	}
}

// TestKubernetesConfigLoads lays out the pod's filesystem as the Deployment mounts it
// (ConfigMap, Secrets) and its environment, then loads the config as the pod would.
func TestKubernetesConfigLoads(t *testing.T) {
	objs := loadManifests(t)
	spec, c := theDeployment(t, objs)
	root := repoRoot(t)
	fsRoot := t.TempDir()

	volumes := map[string]volume{}
	for _, v := range spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			t.Fatalf("volumeMount %s: no such volume", vm.Name)
		}
		var (
			data  map[string]string
			items []keyToPath
		)
		switch {
		case v.ConfigMap != nil:
			cm := find(objs, "ConfigMap", v.ConfigMap.Name)
			if cm == nil {
				t.Fatalf("volume %s: ConfigMap %s is not defined", v.Name, v.ConfigMap.Name)
			}
			data, items = cm.Data, v.ConfigMap.Items
		case v.Secret != nil && v.Secret.SecretName == tlsSecretName:
			data = map[string]string{
				"tls.crt": string(readFile(t, filepath.Join(root, "configs", "example-tls", "example.org.crt"))),
				"tls.key": string(readFile(t, filepath.Join(root, "configs", "example-tls", "example.org.key"))),
			}
			items = v.Secret.Items
		case v.Secret != nil:
			s := find(objs, "Secret", v.Secret.SecretName)
			if s == nil {
				t.Fatalf("volume %s: Secret %s is not defined", v.Name, v.Secret.SecretName)
			}
			data, items = deployedSecretData(t, s), v.Secret.Items
		default:
			t.Fatalf("volume %s: neither configMap nor secret", v.Name)
		}
		files := map[string]string{}
		if len(items) == 0 {
			for k, val := range data {
				files[k] = val
			}
		}
		for _, it := range items {
			val, ok := data[it.Key]
			if !ok {
				t.Fatalf("volume %s: item key %s is not in its source", v.Name, it.Key)
			}
			files[it.Path] = val
		}
		if vm.SubPath != "" {
			val, ok := files[vm.SubPath]
			if !ok {
				t.Fatalf("volumeMount %s: subPath %s is not in volume %s", vm.MountPath, vm.SubPath, v.Name)
			}
			writeFile(t, fsRoot, vm.MountPath, val)
			continue
		}
		for name, val := range files {
			writeFile(t, fsRoot, path.Join(vm.MountPath, name), val)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s := find(objs, "Secret", ref.Name)
			if s == nil {
				t.Fatalf("env %s: Secret %s is not defined", e.Name, ref.Name)
			}
			val, ok := deployedSecretData(t, s)[ref.Key]
			if !ok {
				t.Fatalf("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			t.Setenv(e.Name, val)
		default:
			t.Setenv(e.Name, e.Value)
		}
	}

	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("container args %q, want serve -c FILE", c.Args)
	}
	cfgPath := flagValue(c.Args, "-c")
	if cfgPath == "" {
		t.Fatalf("container args %q name no config file", c.Args)
	}
	cfg := checkConfig(t, filepath.Join(fsRoot, filepath.FromSlash(cfgPath)))
	if cfg.OAuth.ClientSecret == "" {
		t.Errorf("no oauth client secret reached the config")
	}

	// The config's ports are the container's.
	if _, port, _ := net.SplitHostPort(cfg.Metrics.Address); containerPort(c, port) != 9090 {
		t.Errorf("metrics.address %q is not the probed container port 9090", cfg.Metrics.Address)
	}
	if host, _, _ := net.SplitHostPort(cfg.Metrics.Address); host == "127.0.0.1" || host == "localhost" {
		t.Errorf("metrics.address %q: the kubelet probes the pod IP, not loopback", cfg.Metrics.Address)
	}
	for _, l := range cfg.Listeners {
		if _, port, _ := net.SplitHostPort(l.Address); containerPort(c, port) == 0 {
			t.Errorf("listener %s is not a container port", l.Address)
		}
	}
	for _, d := range cfg.Domains {
		if !strings.HasPrefix(d.Upstream.SecretKeyFile, fsRoot) {
			t.Errorf("domain %s: secret_key is not read from a mounted Secret", d.Name)
		}
	}
}
