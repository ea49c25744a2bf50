// Reference oracle for the substitute/when/platform Go-compatibility tests.
//
// Reads one hex-encoded input per stdin line and prints one JSON line per input, computed with
// the Go standard library. Modes (first argument):
//
//	steprefs   text  -> all matches of the step-result pattern
//	artrefs    text  -> all matches of the artifact pattern
//	resultname name  -> [name without indexes, first index text or ""]
//	resultval  raw   -> {"t":"string|array|object","s":…,"a":[…],"o":{…}} (Tekton ResultValue rules)
//	artifacts  json  -> {"in":[marshalled values…],"out":[…]} or {"err":…}
//	when       json  -> the decoded []WhenExpression re-marshalled, or {"err":…}
//	platform   json  -> the decoded map[string][]string, or {"err":…}
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

var (
	stepRef  = regexp.MustCompile(`\$\(steps\..*?\.results\..*?\)`)
	artRef   = regexp.MustCompile(`\$\(steps\.([^.]+)\.(?:inputs|outputs)\.([^.)]+)\)`)
	indexRef = regexp.MustCompile(`\[([0-9])*\*?\]`)
)

type artifactValue struct {
	Digest map[string]string `json:"digest,omitempty"`
	Uri    string            `json:"uri,omitempty"`
}

type artifact struct {
	Name        string          `json:"name,omitempty"`
	Values      []artifactValue `json:"values,omitempty"`
	BuildOutput bool            `json:"buildOutput,omitempty"`
}

type artifacts struct {
	Inputs  []artifact `json:"inputs,omitempty"`
	Outputs []artifact `json:"outputs,omitempty"`
}

type whenExpression struct {
	Input    string   `json:"input,omitempty"`
	Operator string   `json:"operator,omitempty"`
	Values   []string `json:"values,omitempty"`
	CEL      string   `json:"cel,omitempty"`
}

type resultValue struct {
	T string            `json:"t"`
	S string            `json:"s"`
	A []string          `json:"a"`
	O map[string]string `json:"o"`
}

func decodeResult(raw []byte) resultValue {
	if len(raw) == 0 {
		return resultValue{T: "string"}
	}
	if raw[0] == '[' {
		var a []string
		if json.Unmarshal(raw, &a) == nil {
			return resultValue{T: "array", A: a}
		}
	}
	if raw[0] == '{' {
		var o map[string]string
		if json.Unmarshal(raw, &o) == nil {
			return resultValue{T: "object", O: o}
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return resultValue{T: "string", S: s}
	}
	return resultValue{T: "string", S: string(raw)}
}

func marshalValues(list []artifact) []string {
	out := []string{}
	for _, a := range list {
		b, _ := json.Marshal(a.Values)
		out = append(out, a.Name+"="+string(b))
	}
	return out
}

func handle(mode string, in []byte) interface{} {
	switch mode {
	case "steprefs":
		return append([]string{}, stepRef.FindAllString(string(in), -1)...)
	case "artrefs":
		return append([]string{}, artRef.FindAllString(string(in), -1)...)
	case "resultname":
		s := string(in)
		idx := strings.TrimSuffix(strings.TrimPrefix(indexRef.FindString(s), "["), "]")
		return []string{indexRef.ReplaceAllString(s, ""), idx}
	case "resultval":
		return decodeResult(in)
	case "artifacts":
		var a artifacts
		if err := json.Unmarshal(in, &a); err != nil {
			return map[string]string{"err": err.Error()}
		}
		return map[string][]string{"in": marshalValues(a.Inputs), "out": marshalValues(a.Outputs)}
	case "when":
		var w []whenExpression
		if err := json.Unmarshal(in, &w); err != nil {
			return map[string]string{"err": err.Error()}
		}
		return w
	case "platform":
		var m map[string][]string
		if err := json.Unmarshal(in, &m); err != nil {
			return map[string]string{"err": err.Error()}
		}
		return m
	}
	panic("unknown mode " + mode)
}

func main() {
	mode := os.Args[1]
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for scanner.Scan() {
		in, err := hex.DecodeString(scanner.Text())
		if err != nil {
			panic(err)
		}
		b, err := json.Marshal(handle(mode, in))
		if err != nil {
			panic(err)
		}
		fmt.Fprintln(out, string(b))
	}
}
