package nets

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
)

// peerLine is a rate line of a benchmark's output, in the format of the
// PyTorch peers and of mcdood bench's last three lines.
var peerLine = regexp.MustCompile(`(?m)^(train|infer|input-grad) img/s: ([0-9.]+)`)

// RunPeer runs a peer benchmark command through the shell (a PyTorch peer:
// shared/bench/torch_peer.py or scripts/torch_peer.py) and reads the rates
// it prints as "train img/s: X", "infer img/s: Y" and, optionally,
// "input-grad img/s: Z" (ODIN's input-gradient pass; 0 when absent); the
// last of each counts.
func RunPeer(ctx context.Context, command string) (train, infer, inputGrad float64, err error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("peer %q: %v: %s", command, err, bytes.TrimSpace(errb.Bytes()))
	}
	for _, m := range peerLine.FindAllStringSubmatch(out.String(), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[1] {
		case "train":
			train = v
		case "infer":
			infer = v
		default:
			inputGrad = v
		}
	}
	if train == 0 || infer == 0 {
		return 0, 0, 0, fmt.Errorf("peer %q printed no \"train img/s\" and \"infer img/s\" lines:\n%s", command, out.String())
	}
	return train, infer, inputGrad, nil
}
