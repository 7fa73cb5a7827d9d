// Package loaders reads the data sets of the MCD paper (Yu & Aizawa, ICCV 2019)
// from their official formats into one in-memory type, Dataset: 32×32 RGB
// images as bytes with optional labels.
//
// One file per data source: CIFAR-10/100 binary batches (folder or the
// official .tar.gz), image folders and archives (ODIN's Imagenet, LSUN, iSUN
// sets, or any folder), Tiny ImageNet derivations (crop and resize, as ODIN
// built them), and seeded synthetic noise. Fetching checks the published
// checksums and writes atomically. The seeded 1,000-image validation split of
// the paper lives here too, with CIFAR normalisation and training augmentation.
package loaders
