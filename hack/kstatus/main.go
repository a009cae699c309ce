// Command kstatus prints what sigs.k8s.io/cli-utils' kstatus computes for
// Kubernetes objects: the status Flux's `wait: true` and `kubectl apply
// --prune`-style tools wait on (Current, InProgress, Failed, Terminating).
//
// It reads one JSON object on stdin (as `kubectl get -o json` prints it), a
// List (`kind: ...List` with `items`), or a JSON array of objects, and writes
// one JSON result per object: {"kind", "namespace", "name", "status",
// "message"}; an object gives one result, a list an array in the same order.
//
//	kubectl get modelversion churn-1 -o json | kstatus
//	kstatus -version    the cli-utils version it was built with
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

const cliUtils = "sigs.k8s.io/cli-utils"

type result struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

func main() {
	version := flag.Bool("version", false, "print the "+cliUtils+" version and exit")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: kstatus [-version] < object.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version {
		fmt.Println(cliUtilsVersion())
		return
	}
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	// apimachinery's json keeps whole numbers as int64: kstatus reads
	// metadata.generation and status.observedGeneration as int64 and fails
	// on the float64 that encoding/json would give.
	var document any
	if err := utiljson.Unmarshal(data, &document); err != nil {
		return fmt.Errorf("stdin is not JSON: %w", err)
	}
	items, single, err := objects(document)
	if err != nil {
		return err
	}
	results := make([]result, 0, len(items))
	for i, item := range items {
		computed, err := compute(item)
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		results = append(results, computed)
	}
	encoder := json.NewEncoder(out)
	if single {
		return encoder.Encode(results[0])
	}
	return encoder.Encode(results)
}

// objects: the objects of the document, and whether it was one object.
func objects(document any) ([]map[string]any, bool, error) {
	switch value := document.(type) {
	case []any:
		items, err := asObjects(value)
		return items, false, err
	case map[string]any:
		kind, _ := value["kind"].(string)
		if list, ok := value["items"].([]any); ok && strings.HasSuffix(kind, "List") {
			items, err := asObjects(list)
			return items, false, err
		}
		return []map[string]any{value}, true, nil
	default:
		return nil, false, errors.New("stdin holds neither an object, a List nor an array of objects")
	}
}

func asObjects(values []any) ([]map[string]any, error) {
	items := make([]map[string]any, 0, len(values))
	for i, value := range values {
		item, ok := value.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("item %d is not an object", i)
		}
		items = append(items, item)
	}
	return items, nil
}

func compute(object map[string]any) (result, error) {
	u := &unstructured.Unstructured{Object: object}
	computed, err := status.Compute(u)
	if err != nil {
		return result{}, err
	}
	return result{
		Kind:      u.GetKind(),
		Namespace: u.GetNamespace(),
		Name:      u.GetName(),
		Status:    computed.Status.String(),
		Message:   computed.Message,
	}, nil
}

func cliUtilsVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, module := range info.Deps {
		if module.Path == cliUtils {
			if module.Replace != nil {
				return module.Replace.Version
			}
			return module.Version
		}
	}
	return "unknown"
}
