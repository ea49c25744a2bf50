// Oracle for goflag's differential test: each stdin line is one argv, its elements hex-encoded
// and separated by ','; each stdout line is the hex of Go's outcome for it: "ERR <message>",
// "HELP", or "OK" followed by every flag's value and then the positional arguments.
// With the argument "quote-all" it prints strconv.Quote of every rune instead.
package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func outcome(args []string) string {
	fs := flag.NewFlagSet("oracle", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := fs.String("s", "", "")
	accent := fs.String("é", "", "")
	b := fs.Bool("b", false, "")
	d := fs.Duration("d", 0, "")
	u := fs.Uint64("u", 0, "")
	i := fs.Int64("i", 0, "")
	fs.Float64("f", 0, "")
	var list []string
	fs.Func("fn", "", func(v string) error {
		if strings.Contains(v, "bad") {
			return errors.New("bad value")
		}
		list = append(list, v)
		return nil
	})
	err := fs.Parse(args)
	if err == flag.ErrHelp {
		return "HELP"
	}
	if err != nil {
		return "ERR " + err.Error()
	}
	return fmt.Sprintf("OK s=%s é=%s b=%v d=%v u=%d i=%d fn=%s args=%s",
		*s, *accent, *b, *d, *u, *i, strings.Join(list, "|"), strings.Join(fs.Args(), "|"))
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "quote-all" {
		// strconv.Quote of every valid rune, one per line, hex-encoded.
		for r := rune(0); r <= 0x10FFFF; r++ {
			if r >= 0xD800 && r <= 0xDFFF {
				continue
			}
			fmt.Println(hex.EncodeToString([]byte(strconv.Quote(string(r)))))
		}
		return
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	for in.Scan() {
		var args []string
		for _, h := range strings.Split(in.Text(), ",") {
			a, err := hex.DecodeString(h)
			if err != nil {
				panic(err)
			}
			args = append(args, string(a))
		}
		fmt.Println(hex.EncodeToString([]byte(outcome(args))))
	}
}
