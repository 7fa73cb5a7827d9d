package nets

import (
	"context"
	"strings"
	"testing"
)

func TestRunPeer(t *testing.T) {
	for _, tc := range []struct {
		name, command           string
		train, infer, inputGrad float64
		err                     string // a substring of the error; "" for none
	}{
		{name: "rates among other lines", command: `printf 'warm-up\ntrain img/s: 812.5\ninfer img/s: 2400\n'`, train: 812.5, infer: 2400},
		{name: "the last line of each counts", command: `printf 'train img/s: 1\ninfer img/s: 2\ntrain img/s: 3\ninfer img/s: 4\n'`, train: 3, infer: 4},
		{name: "input-gradient rate", command: `printf 'train img/s: 20.5\ninfer img/s: 90\ninput-grad img/s: 41.25\n'`, train: 20.5, infer: 90, inputGrad: 41.25},
		{name: "input-gradient rate first", command: `printf 'input-grad img/s: 7\ntrain img/s: 5\ninfer img/s: 6\n'`, train: 5, infer: 6, inputGrad: 7},
		{name: "input-gradient rate not at a line start", command: `printf 'train img/s: 5\ninfer img/s: 6\nx input-grad img/s: 7\n'`, train: 5, infer: 6},
		{name: "only an input-gradient rate", command: `echo 'input-grad img/s: 7'`, err: "printed no"},
		{name: "no infer line", command: `echo 'train img/s: 5'`, err: `printed no "train img/s"`},
		{name: "rate not at a line start", command: `echo 'x train img/s: 5'; echo 'infer img/s: 6'`, err: "printed no"},
		{name: "command fails", command: `echo broken >&2; exit 3`, err: "exit status 3: broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, infer, inputGrad, err := RunPeer(context.Background(), tc.command)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("RunPeer(%q) error %v, want one containing %q", tc.command, err, tc.err)
				}
				return
			}
			if err != nil || train != tc.train || infer != tc.infer || inputGrad != tc.inputGrad {
				t.Errorf("RunPeer(%q) = %v, %v, %v, %v; want %v, %v, %v", tc.command, train, infer, inputGrad, err, tc.train, tc.infer, tc.inputGrad)
			}
		})
	}
}
