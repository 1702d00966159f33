// setNumThreads sizes libtorch's pool and OpenBLAS's: OpenBLAS sizes its own
// pthread pool from the environment (or the core count) when it loads, and
// at::set_num_threads alone leaves it there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blasNumThreads, getNumThreads, setNumThreads } from '../../src/tensor/index.js';

test('setNumThreads resizes libtorch and OpenBLAS alike, and rejects counts below 1', () => {
  const before = getNumThreads();
  try {
    for (const n of [1, 2, 1]) {
      setNumThreads(n);
      assert.equal(getNumThreads(), n);
      const blas = blasNumThreads();
      // null only where libtorch's BLAS is not OpenBLAS (a PyTorch build with MKL in LIBTORCH).
      if (process.env.LIBTORCH === undefined) assert.notEqual(blas, null, 'Debian libtorch with libopenblas0-pthread: OpenBLAS is loaded');
      if (blas !== null) assert.equal(blas, n, `OpenBLAS threads after setNumThreads(${n})`);
    }
    assert.throws(() => setNumThreads(0), /setNumThreads: threads must be >= 1, got 0/);
  } finally {
    setNumThreads(before);
  }
});
