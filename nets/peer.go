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
// PyTorch peer and of mcdood bench's last two lines.
var peerLine = regexp.MustCompile(`(?m)^(train|infer) img/s: ([0-9.]+)`)

// RunPeer runs a peer benchmark command through the shell (the PyTorch
// peer, shared/bench/torch_peer.py) and reads the two rates it prints as
// "train img/s: X" and "infer img/s: Y"; the last of each counts.
func RunPeer(ctx context.Context, command string) (train, infer float64, err error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("peer %q: %v: %s", command, err, bytes.TrimSpace(errb.Bytes()))
	}
	for _, m := range peerLine.FindAllStringSubmatch(out.String(), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "train" {
			train = v
		} else {
			infer = v
		}
	}
	if train == 0 || infer == 0 {
		return 0, 0, fmt.Errorf("peer %q printed no \"train img/s\" and \"infer img/s\" lines:\n%s", command, out.String())
	}
	return train, infer, nil
}
