// Package loaders reads the data sets of the MCD paper (Yu & Aizawa, ICCV 2019)
// from their official formats into one in-memory type, Dataset: 32×32 RGB
// images as bytes with optional labels.
//
// One file per data source:
//
//	cifar.go         CIFAR-10/100 binary batches, the extracted folder or the official .tar.gz
//	imagefolder.go   image folders and archives (ODIN's Imagenet, LSUN, iSUN sets, or any folder)
//	tinyimagenet.go  the Tiny ImageNet derivations: crop and resize as ODIN built them, and their FIX twins
//	control.go       cifar10-jpeg, the JPEG-artefact control of ODIN's sets
//	noise.go         seeded Gaussian and uniform noise
//	concat.go        Concat: image sets joined into one unlabelled set
//	image.go         decoding and the 32×32 fits (torchvision Resize(32) with Pillow's bilinear filter; crops)
//	odinfit.go       ODIN's constructions as fits (odin-resize, odin-crop): PIL's nearest neighbour, JPEG quality 75; the evidence
//	jpegcolor.go     libjpeg's chroma upsampling and colour conversion, to match PIL
//	jpeginfo.go      JPEG headers: process, subsampling, quantisation tables, IJG quality
//	stats.go         high-frequency energy of images and folders
//	statstable.go    the table of "mcdood data stats": MeasureStats, WriteStats
//	archive.go       tar, tar.gz and zip read in place, streaming, within budgets
//	files.go         only regular files and folders are opened (never a named pipe or device)
//	numpyrand.go     numpy's legacy MT19937 permutation, for the authors' split
//	split.go         the paper's seeded 1,000-image validation split
//	catalog.go       names → data on disk (Open, Locate, custom sets, the data root)
//	fetch.go         downloads and mirror copies, checksums, atomic renames
//	fetchnames.go    fetch names and commands: FetchCommand, ExpandFetchNames, FetchEach
//	weights.go       published network weights: fetch names, pinned sha256, ResolveWeights
//	check.go         what is on disk, with counts and corruption
//	status.go        the data-set status: Status, Report (one set as a check or a data pass found it)
//	report.go        WriteReports: reports as one table, with warnings and the fetch commands
//	errors.go        ErrNotFound, ErrUnavailable, NotFoundError
//	dataset.go       Dataset, CIFAR normalisation and training augmentation
//
// Choices made here, and why:
//
//   - Archives are read in place and never extracted: a fetch is one rename,
//     there is no half-extracted state, and a download can be checked under
//     its temporary name before it becomes visible.
//   - User files are hostile until read: archives are decoded member by
//     member within a member-count and an uncompressed-bytes budget
//     (archiveLimits), so memory is the images kept plus one image's
//     decoding; named pipes and devices are refused before open(2); links
//     that lead nowhere are reported, never silently skipped.
//   - Every convention that changes pixels follows the MCD authors' code
//     (YU1ut/UOOD-MCD utils/loader.py) and what it calls: PIL's
//     convert('RGB'), torchvision 0.3's Resize(32) with PIL's bilinear
//     filter, make_dataset's file order, np.random.seed(3) permutations.
//     Where Go's standard library differs from PIL (resampling, JPEG chroma
//     upsampling and colour conversion) the PIL/libjpeg algorithm is
//     reimplemented and tested against Pillow's output; only the JPEG IDCT
//     still differs (≤ 3 grey levels on a few percent of values), and, in
//     the JPEG round trip of ODIN's constructions, the forward DCT (0.12
//     levels on average; odinfit.go).
//   - ODIN's own 32×32 sets are aliased and JPEG-compressed (its iSUN
//     archive shows it), and those are the sets the papers scored, so the
//     Tiny ImageNet derivations under ODIN's names rebuild that construction
//     (odinfit.go, with the measurements that chose it); the clean
//     derivations stay available as the "-fix" sets (CSI's name, Tack et
//     al., NeurIPS 2020), so a table can show both.
//   - Library code never prints: progress goes to a *progress.Reporter and
//     messages to an io.Writer the caller gives.
//   - Randomness (crops, noise) comes from math/rand/v2's PCG seeded
//     explicitly; the split uses numpy's generator because the paper's split
//     is defined by it.
package loaders
