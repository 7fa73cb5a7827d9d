package mcd

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// Resumable fine-tuning. When the environment names a checkpoint
// file (ood.Env.Checkpoint; the runner gives each cell
// OUT/checkpoints/<cell key>.ckpt), FineTune writes its whole state there at
// the end of every epoch — also once head 2 is fitted (head2 = "fit"), and
// every Config.CheckpointEvery steps when that is set — and resumes from the
// file when it finds one. The result (the selected model, hence the scores;
// the history; the best epoch) is bit for bit an uninterrupted run's, and a
// kill loses at most the epoch, or the CheckpointEvery steps, under way.
//
// The file is a nets checkpoint (nets/checkpoint.go, format version 2),
// written atomically (internal/atomicfile: a temporary file in the same
// folder, synced, renamed over the old one) and closed by a sha256 of its
// contents; it takes two to three times the network's weights. It holds
//
//   - the model being fine-tuned, both heads and the extractor: every
//     parameter and batch-norm running statistic, and the SGD momentum
//     buffers;
//   - the best model so far (further model "best"), unless it is that very
//     model (at the end of the epoch that was kept);
//   - Meta: "detector" = "mcd", the "fingerprint" of what the result
//     depends on (fingerprint), the "step" reached in the next epoch;
//   - the payload, fineTuneState gob-encoded: where the loop is, the
//     samplers' positions, the state of every generator it draws from (the
//     augmentation's, discrepancy sampling's, the two steps' dropout), the
//     history and the selection so far.
//
// A checkpoint that cannot be used — truncated or corrupt (checksum), of
// another detector, or written for another configuration, starting network,
// data or numerics (fingerprint) — is never used in part: it is discarded
// with a warning naming the file and why, fine-tuning starts over, and its
// first checkpoint replaces the file. Starting over costs time, never
// correctness, so a requeued cluster job goes on rather than failing.
// FineTune never removes the file: whoever chose it does once the result is
// safe (the runner, after the cell's record is written); until then a rerun
// of a finished fine-tuning returns its result without training.

// fineTuneState is a checkpoint's payload: the fine-tuning loop's state
// besides the models and the optimiser.
type fineTuneState struct {
	Epochs int        // epochs complete
	Step   int        // steps of the next epoch done (CheckpointEvery), else 0
	Sums   [3]float64 // the next epoch's loss sums over those steps
	// Seconds is the next epoch's time so far.
	Seconds float64
	// The samplers: position in the current pass over the labelled set
	// and passes begun (each pass's order derives from the seed and its
	// number); the same for the unlabelled pool; and, for pool_sampling
	// "discrepancy" within an epoch, the epoch's weights and generator.
	TrainPos, TrainCycle int
	PoolPos, PoolCycle   int
	PoolWeights          []float64
	Pool                 []byte
	// Aug, DropoutA and DropoutB are the states of the augmentation's
	// generator and of the two steps' dropout generators.
	Aug, DropoutA, DropoutB []byte
	History                 []Epoch
	// The selection: the best epoch so far (0: the network before
	// fine-tuning) and its criteria; BestIsModel when the best model is
	// the model saved (no further model "best" in the file).
	BestEpoch          int
	BestAUROC, BestGap float64
	BestIsModel        bool
}

// resumed is a checkpoint read back for the fine-tuning it belongs to.
type resumed struct {
	model *nets.Model
	best  *nets.Model // nil when state.BestIsModel
	sgd   *nets.SGD
	state fineTuneState
}

// checkpointDetector is the Meta "detector" of MCD's checkpoints.
const checkpointDetector = "mcd"

// fingerprint hashes everything a fine-tuning's result depends on besides
// this code: the configuration (Config.CheckpointEvery, which changes no
// result, is left out of its JSON), the seed, the evaluation batch and
// normalisation, the starting network's weights (nets.Model.Digest), the
// images and labels of every set, and the numerics — BLAS, kernel level,
// convolution engine and thread count, for which training is deterministic
// (package nets). The runner's cell key already names a configuration; the
// fingerprint keeps a file from being resumed by anything but the very
// fine-tuning that wrote it.
func fingerprint(env *ood.Env, m *nets.Model, data *ood.Data, cfg Config) string {
	h := sha256.New()
	head, _ := json.Marshal(struct {
		Format              int
		Config              Config
		Seed                uint64
		Norm                loaders.Normalization
		Batch               int
		Setting             ood.Setting
		Model               string
		BLAS, Kernels, Conv string
		Threads             int
	}{1, cfg, env.Seed, env.Norm, env.Batch, data.Setting, m.Digest(), nets.BLAS(), nets.Kernels(), nets.Conv(), nets.Threads()})
	h.Write(head)
	for _, d := range []*loaders.Dataset{data.Train, data.IDVal, data.OODVal, data.Unlabelled} {
		if d == nil {
			h.Write([]byte("\nnone"))
			continue
		}
		fmt.Fprintf(h, "\n%q %d images, %d classes, %d labels\n", d.Name, d.Len(), d.Classes, len(d.Labels))
		h.Write(d.Pixels)
		labels := make([]byte, 0, 8*len(d.Labels))
		for _, l := range d.Labels {
			labels = binary.LittleEndian.AppendUint64(labels, uint64(l))
		}
		h.Write(labels)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// saveCheckpoint writes a fine-tuning's state to path atomically.
func saveCheckpoint(path, fp string, model, best *nets.Model, opt *nets.SGD, st *fineTuneState) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(st); err != nil {
		return fmt.Errorf("mcd: checkpoint %s: %w", path, err)
	}
	ns := nets.State{Epoch: st.Epochs, SGD: opt, Payload: payload.Bytes(),
		Meta: map[string]string{"detector": checkpointDetector, "fingerprint": fp, "step": strconv.Itoa(st.Step)}}
	if !st.BestIsModel {
		ns.Models = map[string]*nets.Model{"best": best}
	}
	if err := nets.SaveCheckpoint(path, model, ns); err != nil {
		return fmt.Errorf("mcd: saving checkpoint: %w", err)
	}
	return nil
}

// loadCheckpoint reads the checkpoint at path for the fine-tuning of m with
// cfg whose fingerprint is fp, steps steps per epoch, on train and pool
// (after the held-out images are taken out of it): nil and no error when
// there is no file; an error wrapping nets.ErrCheckpoint, naming the file
// and what is wrong, when it cannot be used.
func loadCheckpoint(path, fp string, m *nets.Model, cfg Config, steps int, train, pool *loaders.Dataset) (*resumed, error) {
	model, st, err := nets.LoadCheckpoint(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) (*resumed, error) {
		return nil, fmt.Errorf("checkpoint %s: %s: %w", path, fmt.Sprintf(format, args...), nets.ErrCheckpoint)
	}
	switch {
	case st.Meta["detector"] != checkpointDetector:
		return bad("not an MCD fine-tuning checkpoint (detector %q)", st.Meta["detector"])
	case st.Meta["fingerprint"] != fp:
		return bad("written for another configuration, starting network, data or numerics (fingerprint %.12s…, this fine-tuning's %.12s…)",
			st.Meta["fingerprint"], fp)
	case model.Spec != m.Spec || model.Classes != m.Classes:
		return bad("holds %s with %d classes, not %s with %d", model.Spec.Name, model.Classes, m.Spec.Name, m.Classes)
	case st.SGD == nil || st.SGD.Momentum != cfg.Momentum || st.SGD.WeightDecay != cfg.WeightDecay || st.SGD.Nesterov:
		return bad("no optimiser state with momentum %v and weight decay %v", cfg.Momentum, cfg.WeightDecay)
	}
	r := &resumed{model: model, best: st.Models["best"], sgd: st.SGD}
	s := &r.state
	if err := gob.NewDecoder(bytes.NewReader(st.Payload)).Decode(s); err != nil {
		return bad("fine-tuning state: %v", err)
	}
	// The fingerprint vouches for the file; these catch a state that this
	// code would not have written.
	switch {
	case s.Epochs != st.Epoch || s.Epochs < 0 || s.Epochs > cfg.Epochs || len(s.History) != s.Epochs:
		return bad("%d epochs complete with a history of %d, of %d", s.Epochs, len(s.History), cfg.Epochs)
	case s.Step < 0 || s.Step >= steps || s.Step > 0 && s.Epochs == cfg.Epochs:
		return bad("step %d of an epoch of %d after %d epochs of %d", s.Step, steps, s.Epochs, cfg.Epochs)
	case s.BestEpoch < 0 || s.BestEpoch > s.Epochs || s.BestIsModel != (r.best == nil) || len(st.Models) > 1:
		return bad("best epoch %d (the model's: %v) with further models %d", s.BestEpoch, s.BestIsModel, len(st.Models))
	case s.TrainPos < 0 || s.TrainPos > train.Len() || s.PoolPos < 0 || s.PoolPos > pool.Len() || s.TrainCycle < 0 || s.PoolCycle < 0:
		return bad("sampler positions %d of %d labelled and %d of %d unlabelled images", s.TrainPos, train.Len(), s.PoolPos, pool.Len())
	case len(s.Aug) == 0:
		return bad("no augmentation generator state")
	case cfg.PoolSampling == "discrepancy" && s.Step > 0 && (len(s.PoolWeights) != pool.Len() || len(s.Pool) == 0):
		return bad("%d pool sampling weights for %d images", len(s.PoolWeights), pool.Len())
	}
	return r, nil
}

// save checkpoints a fine-tuning after epochs complete epochs and step
// steps of the next, with their loss sums and time so far.
func (ft *fineTuning) save(epochs, step int, sums [3]float64, seconds float64) error {
	st := &fineTuneState{Epochs: epochs, Step: step, Sums: sums, Seconds: seconds,
		TrainPos: ft.labelled.pos, TrainCycle: ft.labelled.pass, PoolPos: ft.unlabelled.pos, PoolCycle: ft.unlabelled.pass,
		History: ft.history, BestEpoch: ft.selected.epoch, BestAUROC: ft.selected.auroc, BestGap: ft.selected.gap,
		// At the end of the epoch kept (or before the first), the best
		// model is a copy of the model.
		BestIsModel: step == 0 && ft.selected.epoch == epochs}
	var err error
	if st.Aug, err = ft.augSrc.MarshalBinary(); err != nil {
		return err
	}
	if step > 0 && ft.unlabelled.cumulative != nil {
		st.PoolWeights = ft.unlabelled.cumulative
		if st.Pool, err = ft.unlabelled.src.MarshalBinary(); err != nil {
			return err
		}
	}
	if st.DropoutA, err = ft.stepA.DropoutState(); err != nil {
		return err
	}
	if st.DropoutB, err = ft.stepB.DropoutState(); err != nil {
		return err
	}
	if err := saveCheckpoint(ft.env.Checkpoint, ft.fingerprint, ft.model, ft.selected.model, ft.opt, st); err != nil {
		return err
	}
	ft.env.Logger().Debug("mcd checkpoint written", "checkpoint", ft.env.Checkpoint, "completed_epochs", epochs, "step", step)
	return nil
}

// resume puts a fine-tuning, its model and optimiser taken from the
// checkpoint, where the checkpoint left it: the steps' dropout generators,
// the augmentation's, the samplers, the history and the selection.
func (ft *fineTuning) resume(res *resumed) error {
	s, path := res.state, ft.env.Checkpoint
	if err := ft.stepA.SetDropoutState(s.DropoutA); err != nil {
		return fmt.Errorf("mcd: checkpoint %s: step A: %w", path, err)
	}
	if err := ft.stepB.SetDropoutState(s.DropoutB); err != nil {
		return fmt.Errorf("mcd: checkpoint %s: step B: %w", path, err)
	}
	if err := ft.augSrc.UnmarshalBinary(s.Aug); err != nil {
		return fmt.Errorf("mcd: checkpoint %s: augmentation generator: %w", path, err)
	}
	ft.labelled.resume(s.TrainPos, s.TrainCycle)
	ft.unlabelled.resume(s.PoolPos, s.PoolCycle)
	if s.Step > 0 && ft.cfg.PoolSampling == "discrepancy" {
		if err := ft.unlabelled.resumeWeighted(s.PoolWeights, s.Pool); err != nil {
			return fmt.Errorf("mcd: checkpoint %s: pool sampling generator: %w", path, err)
		}
	}
	ft.history = s.History
	ft.selected = selector{rule: ft.cfg.Selection, model: res.best, epoch: s.BestEpoch, auroc: s.BestAUROC, gap: s.BestGap}
	if s.BestIsModel {
		ft.selected.model = ft.model.Clone()
	}
	ft.start.epoch, ft.start.step, ft.start.sums, ft.start.seconds = s.Epochs+1, s.Step, s.Sums, s.Seconds
	return nil
}
