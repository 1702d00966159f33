// Native bytes reported to V8: a tensor created outside any scope reports its
// bytes at once; one created inside tidy reports them only if it outlives the
// outermost scope (returned from it, or kept), since the scope frees the rest
// itself. dispose() takes the report back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keep, reportedExternalBytes, tidy, zeros } from '../../src/tensor/index.js';

const MB = 1 << 20;
const mb = (): ReturnType<typeof zeros> => zeros([MB / 4]); // 1 MiB float32

test('tensors outside scopes report their bytes; dispose takes them back', () => {
  const before = reportedExternalBytes();
  const t = mb();
  assert.equal(reportedExternalBytes() - before, MB);
  t.dispose();
  assert.equal(reportedExternalBytes(), before);
});

test('inside tidy nothing is reported until a tensor escapes the outermost scope', () => {
  const before = reportedExternalBytes();
  let inner = -1;
  let afterInnerTidy = -1;
  let keptInside = -1;
  const out = tidy(() => {
    mb().add(1); // temporaries
    const r = tidy(() => mb()); // returned into the outer scope: still scoped
    afterInnerTidy = reportedExternalBytes() - before;
    const k = keep(mb()); // kept: lives past every scope
    keptInside = reportedExternalBytes() - before;
    inner = k.numel;
    k.dispose();
    return r;
  });
  assert.equal(inner, MB / 4);
  assert.equal(afterInnerTidy, 0, 'nothing reported while scopes are open');
  assert.equal(keptInside, MB, 'keep() reports at once');
  assert.equal(reportedExternalBytes() - before, MB, 'the tensor returned from the outermost tidy is reported');
  out.dispose();
  assert.equal(reportedExternalBytes(), before);
});

test('a tidy that throws frees its tensors and leaves reporting on for later tensors', () => {
  const before = reportedExternalBytes();
  assert.throws(() =>
    tidy(() => {
      mb();
      throw new Error('boom');
    }),
  );
  const t = mb();
  assert.equal(reportedExternalBytes() - before, MB);
  t.dispose();
});
