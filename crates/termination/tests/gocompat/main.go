// Reference oracle for the termination crate's Go-compatibility tests.
//
// Reads one hex-encoded input per stdin line and prints one result line per input, using
// the Go standard library directly. Modes (first argument):
//
//	json     value bytes -> json.Marshal([]RunResult{{Key:"k",Value:v,ResultType:1}})
//	deflate  json bytes  -> "tknz:" + base64.RawStd(flate level 9)
//	inflate  message     -> hex of the decompressed bytes, or "ERR"
//	b64std   input       -> hex of base64.StdEncoding.Decode, or "ERR <message>"
//	b64raw   input       -> hex of base64.RawStdEncoding.DecodeString, or "ERR <message>"
//	parse    message     -> json.Marshal of the controller-side parse result, or "ERR"
//	fit      value size  -> how many results of that size fit in 4096 bytes: "<plain> <compressed>"
//	clean    path        -> hex of filepath.Clean(path)
//	errno    decimal     -> syscall.Errno(n).Error()
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

type ResultType int

type RunResult struct {
	Key          string     `json:"key"`
	Value        string     `json:"value"`
	ResourceName string     `json:"resourceName,omitempty"`
	ResultType   ResultType `json:"type,omitempty"`
}

func (r *ResultType) UnmarshalJSON(data []byte) error {
	var n int
	if err := json.Unmarshal(data, &n); err == nil {
		*r = ResultType(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("neither int nor string")
	}
	names := map[string]ResultType{"TaskRunResult": 1, "InternalTektonResult": 3, "StepResult": 4,
		"StepArtifactsResult": 5, "TaskRunArtifactsResult": 6}
	if t, ok := names[s]; ok {
		*r = t
	} else {
		*r = 10
	}
	return nil
}

func deflate(data []byte) string {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(data)
	w.Close()
	return "tknz:" + base64.RawStdEncoding.EncodeToString(buf.Bytes())
}

func inflate(msg string) ([]byte, error) {
	if !strings.HasPrefix(msg, "tknz:") {
		return nil, errors.New("no prefix")
	}
	raw, err := base64.RawStdEncoding.DecodeString(msg[5:])
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 128*1024+1))
	if err != nil {
		return nil, err
	}
	if len(out) > 128*1024 {
		return nil, errors.New("too large")
	}
	return out, nil
}

func parse(msg string) ([]RunResult, error) {
	if msg == "" {
		return nil, nil
	}
	if strings.HasPrefix(msg, "tknz:") {
		b, err := inflate(msg)
		if err != nil {
			return nil, err
		}
		msg = string(b)
	}
	var r []RunResult
	if err := json.Unmarshal([]byte(msg), &r); err != nil {
		return nil, err
	}
	m := map[string]RunResult{}
	for _, rr := range r {
		if rr != (RunResult{}) {
			m[rr.Key] = rr
		}
	}
	out := make([]RunResult, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// fit counts how many results with `size`-byte values fit, plain and compressed.
func fit(size int) (int, int) {
	count := func(compress bool) int {
		var rs []RunResult
		for n := 0; ; n++ {
			rs = append(rs, RunResult{Key: fmt.Sprintf("result-%d", n), Value: value(n, size), ResultType: 1})
			js, _ := json.Marshal(rs)
			out := string(js)
			if compress {
				if c := deflate(js); len(c) < len(js) {
					out = c
				}
			}
			if len(out) > 4096 {
				return n
			}
		}
	}
	return count(false), count(true)
}

// value is a deterministic, moderately compressible payload (the same generator as the Rust test).
func value(n, size int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, size)
	x := uint32(n*7919 + 17)
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = alphabet[(x>>16)%uint32(len(alphabet))]
	}
	return string(b)
}

func main() {
	mode := os.Args[1]
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		data, err := hex.DecodeString(in.Text())
		if err != nil {
			panic(err)
		}
		switch mode {
		case "json":
			js, _ := json.Marshal([]RunResult{{Key: "k", Value: string(data), ResultType: 1}})
			fmt.Fprintln(out, hex.EncodeToString(js))
		case "deflate":
			fmt.Fprintln(out, deflate(data))
		case "inflate":
			if b, err := inflate(string(data)); err != nil {
				fmt.Fprintln(out, "ERR")
			} else {
				fmt.Fprintln(out, hex.EncodeToString(b))
			}
		case "b64std", "b64raw":
			var b []byte
			var err error
			if mode == "b64std" {
				b = make([]byte, base64.StdEncoding.DecodedLen(len(data)))
				var n int
				n, err = base64.StdEncoding.Decode(b, data)
				b = b[:n]
			} else {
				b, err = base64.RawStdEncoding.DecodeString(string(data))
			}
			if err != nil {
				fmt.Fprintln(out, "ERR "+err.Error())
			} else {
				fmt.Fprintln(out, hex.EncodeToString(b))
			}
		case "parse":
			if r, err := parse(string(data)); err != nil {
				fmt.Fprintln(out, "ERR")
			} else {
				js, _ := json.Marshal(r)
				fmt.Fprintln(out, hex.EncodeToString(js))
			}
		case "clean":
			fmt.Fprintln(out, hex.EncodeToString([]byte(filepath.Clean(string(data)))))
		case "errno":
			n, _ := strconv.Atoi(string(data))
			fmt.Fprintln(out, syscall.Errno(n).Error())
		case "fit":
			size, _ := strconv.Atoi(string(data))
			plain, compressed := fit(size)
			fmt.Fprintf(out, "%d %d\n", plain, compressed)
		}
	}
}
