// SPDX-License-Identifier: GPL-3.0-or-later
// The dropout hash: lowbias32 applied twice, as _graft_dropout_hash in
// compute/backend/graft-backend-private.h; the two must stay identical.

uint graft_dropout_mix(uint x)
{
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

uint graft_dropout_hash(uint index, uint key)
{
  return graft_dropout_mix(graft_dropout_mix(index ^ key) + key);
}
