package loaders

// This file reimplements exactly as much of numpy's legacy random module
// (numpy.random.RandomState, the "mtrand" generator behind np.random.seed and
// np.random.permutation) as the MCD authors' split needs, so that
//
//	np.random.seed(3); p = np.random.permutation(len(data))
//
// in YU1ut/UOOD-MCD utils/loader.py gives the same indices here. Sources:
// numpy/random/src/mt19937/mt19937.c (mt19937_seed, mt19937_gen, the
// tempering of mt19937_next32), numpy/random/src/distributions/
// distributions.c (random_interval, legacy rk_interval), and
// numpy/random/mtrand.pyx (RandomState._legacy_seeding, shuffle,
// permutation). The expected outputs in numpyrand_test.go were produced by
// numpy 1.24.2 (Debian python3-numpy).

const (
	mtN       = 624
	mtM       = 397
	mtMatrixA = 0x9908b0df
	mtUpper   = 0x80000000
	mtLower   = 0x7fffffff
)

// mt19937 is the 32-bit Mersenne Twister (Matsumoto & Nishimura, 1998) with
// numpy's legacy state layout.
type mt19937 struct {
	key [mtN]uint32
	pos int
}

// newNumpyRandomState returns the generator that np.random.seed(seed) sets up
// for an integer seed: RandomState._legacy_seeding calls mt19937_seed with
// seed & 0xffffffff, which is Matsumoto & Nishimura's init_genrand.
func newNumpyRandomState(seed uint32) *mt19937 {
	m := &mt19937{}
	s := seed
	for i := 0; i < mtN; i++ {
		m.key[i] = s
		s = 1812433253*(s^(s>>30)) + uint32(i) + 1
	}
	m.pos = mtN
	return m
}

func (m *mt19937) generate() {
	k := &m.key
	var i int
	for i = 0; i < mtN-mtM; i++ {
		y := (k[i] & mtUpper) | (k[i+1] & mtLower)
		k[i] = k[i+mtM] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
	}
	for ; i < mtN-1; i++ {
		y := (k[i] & mtUpper) | (k[i+1] & mtLower)
		k[i] = k[i+mtM-mtN] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
	}
	y := (k[mtN-1] & mtUpper) | (k[0] & mtLower)
	k[mtN-1] = k[mtM-1] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
	m.pos = 0
}

// uint32 is mt19937_next32 (genrand_int32).
func (m *mt19937) uint32() uint32 {
	if m.pos >= mtN {
		m.generate()
	}
	y := m.key[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// uint64 is mt19937_next64: two 32-bit outputs, the first one high.
func (m *mt19937) uint64() uint64 {
	hi := uint64(m.uint32())
	return hi<<32 | uint64(m.uint32())
}

// interval returns a uniform integer in [0, max] the way numpy's legacy
// random_interval does: draw 32 (or, for max ≥ 2^32, 64) random bits, keep
// those under the smallest all-ones mask ≥ max, and reject values > max.
func (m *mt19937) interval(max uint64) uint64 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	mask |= mask >> 32
	if max <= 0xffffffff {
		for {
			if v := uint64(m.uint32()) & mask; v <= max {
				return v
			}
		}
	}
	for {
		if v := m.uint64() & mask; v <= max {
			return v
		}
	}
}

// NumpyPermutation returns what np.random.seed(seed) followed by
// np.random.permutation(n) returns in numpy's legacy generator: arange(n)
// shuffled by RandomState.shuffle, a Fisher–Yates pass from the last element
// down to index 1, each swapping x[i] with x[random_interval(i)].
func NumpyPermutation(n int, seed uint32) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	m := newNumpyRandomState(seed)
	for i := n - 1; i >= 1; i-- {
		j := int(m.interval(uint64(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}
