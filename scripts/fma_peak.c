// fma_peak measures one core's peak FP32 FMA rate with 12 independent
// 256-bit and then 512-bit FMA chains (the README's peak figure):
//   gcc -O3 -funroll-all-loops -mavx512f -mfma scripts/fma_peak.c && ./a.out
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
  long iters=200000000L; double t0,t1;
  __m256 a[12]; __m256 b=_mm256_set1_ps(0.9999f), c=_mm256_set1_ps(1e-7f);
  for(int i=0;i<12;i++) a[i]=_mm256_set1_ps(i);
  t0=now();
  for(long n=0;n<iters;n++){ for(int i=0;i<12;i++) a[i]=_mm256_fmadd_ps(a[i],b,c); }
  t1=now();
  float s=0; for(int i=0;i<12;i++){float v[8];_mm256_storeu_ps(v,a[i]);s+=v[0];}
  printf("avx2: %.1f GFLOP/s per core (%g)\n", iters*12.0*8*2/(t1-t0)/1e9, s);
  __m512 z[12]; __m512 zb=_mm512_set1_ps(0.9999f), zc=_mm512_set1_ps(1e-7f);
  for(int i=0;i<12;i++) z[i]=_mm512_set1_ps(i);
  iters/=2; t0=now();
  for(long n=0;n<iters;n++){ for(int i=0;i<12;i++) z[i]=_mm512_fmadd_ps(z[i],zb,zc); }
  t1=now(); s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(z[i]);
  printf("avx512: %.1f GFLOP/s per core (%g)\n", iters*12.0*16*2/(t1-t0)/1e9, s);
  return 0;
}
