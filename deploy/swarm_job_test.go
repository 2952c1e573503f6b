// Package deploy holds the Kubernetes manifests; its test checks them.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const completionIndexAnnotation = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

// decodeJob decodes a manifest strictly into the Kubernetes API's own
// Job type: a field the API does not have (a typo), a value of the wrong
// type or a duplicate key is an error, as the API server would refuse
// it. No schema can be downloaded here for kubeconform or kubectl, so
// the API's Go types are the schema.
func decodeJob(data []byte) (*batchv1.Job, error) {
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(data, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// TestSwarmJobIsAnIndexedJobOfShards: deploy/swarm-job.yaml is a valid
// batch/v1 Job whose pods are the shards of one swarm: Indexed, every
// shard at once, -shards equal to the completions, -shard from the
// pod's completion index, the report on stdout as a JSON line for
// "bots merge", and arguments the bots command accepts.
func TestSwarmJobIsAnIndexedJobOfShards(t *testing.T) {
	data, err := os.ReadFile("swarm-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job, err := decodeJob(data)
	if err != nil {
		t.Fatalf("swarm-job.yaml is not a batch/v1 Job: %v", err)
	}
	spec := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Errorf("apiVersion %q kind %q", job.APIVersion, job.Kind)
	}
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("completionMode %v, want Indexed", spec.CompletionMode)
	}
	if spec.Completions == nil || spec.Parallelism == nil || *spec.Completions < 1 || *spec.Parallelism != *spec.Completions {
		t.Fatalf("completions %v, parallelism %v: want them equal, every shard at once", spec.Completions, spec.Parallelism)
	}
	if p := spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q: a shard run again is not the same load", p)
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want the bots alone", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Command, []string{"/tickwire/bots"}) {
		t.Errorf("command %q, want the image's bots", c.Command)
	}
	flags := map[string]string{}
	for _, a := range c.Args {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			t.Fatalf("argument %q: write every flag as -name=value (or -name, a boolean)", a)
		}
		if !hasValue {
			value = "true"
		}
		flags[name] = value
	}
	if flags["shards"] != strconv.Itoa(int(*spec.Completions)) {
		t.Errorf("-shards=%s, completions %d: want them equal", flags["shards"], *spec.Completions)
	}
	m := regexp.MustCompile(`^\$\((\w+)\)$`).FindStringSubmatch(flags["shard"])
	if m == nil {
		t.Fatalf("-shard=%q does not reference the completion index", flags["shard"])
	}
	if !indexVar(c.Env, m[1]) {
		t.Errorf("-shard=%s: $%s is not the pod's completion index", flags["shard"], m[1])
	}
	if flags["json"] != "-" || flags["gate"] != "false" {
		t.Errorf("-json=%q -gate=%q: want the report on stdout (-json=-) and the gate left to the merge (-gate=false)", flags["json"], flags["gate"])
	}
	if n, _ := strconv.Atoi(flags["n"]); n < int(*spec.Completions) {
		t.Errorf("-n=%s over %d shards: a shard without bots", flags["n"], *spec.Completions)
	}
	if rooms, ok := flags["rooms"]; ok {
		if k, _ := strconv.Atoi(rooms); k < int(*spec.Completions) {
			t.Errorf("-rooms=%s over %d shards: a shard without rooms", rooms, *spec.Completions)
		}
	}

	// The bots command accepts the arguments: parsed, then -h (which it
	// reaches only when every flag before it was valid).
	bin := filepath.Join(t.TempDir(), "bots")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/bots").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	args := slices.Clone(c.Args)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, m[0], "0")
	}
	if out, err := exec.Command(bin, append(args, "-h")...).CombinedOutput(); err != nil {
		t.Fatalf("bots %q: %v\n%s", args, err, out)
	}
}

// indexVar reports whether the container's variable name is the pod's
// completion index: the one the Job sets, or one read from its
// annotation.
func indexVar(env []corev1.EnvVar, name string) bool {
	if name == "JOB_COMPLETION_INDEX" {
		return true
	}
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return e.ValueFrom.FieldRef.FieldPath == completionIndexAnnotation
		}
	}
	return false
}

// TestStrictDecodingCatchesMistakes: the decoding the manifest test
// relies on refuses what kubectl would.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	data, err := os.ReadFile("swarm-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	for _, c := range []struct{ name, old, new string }{
		{"a misspelt field", "completionMode: Indexed", "completionMod: Indexed"},
		{"a pod's field in the Job's spec", "  backoffLimit: 0", "  restartPolicy: Never\n  backoffLimit: 0"},
		{"a duplicate key", "  backoffLimit: 0", "  backoffLimit: 0\n  backoffLimit: 1"},
		{"a number as text", "completions: 10", "completions: ten"},
		{"a bad quantity", `cpu: "2"`, `cpu: "two cores"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(good, c.old, c.new, 1)
			if bad == good {
				t.Fatalf("%q is not in the manifest", c.old)
			}
			if _, err := decodeJob([]byte(bad)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
