/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The public face of libgraft: everything the application and graft-cli may use. */

#include "backend/graft-device.h"
#include "backend/graft-backend.h"
#include "backend/cpu/graft-cpu-blas.h"
#include "tensor/graft-tensor.h"
#include "tensor/graft-ops.h"
#include "tensor/graft-ops-pool.h"
#include "tensor/graft-ops-shape.h"
#include "tensor/graft-ops-attention.h"
#include "tensor/graft-ops-conv.h"
#include "tensor/graft-ops-norm.h"
#include "tensor/graft-ops-loss.h"
#include "tensor/graft-ops-optim.h"
#include "bench/graft-bench.h"
#include "bench/graft-bench-train.h"
#include "io/graft-safetensors.h"
#include "io/graft-download.h"
#include "data/graft-data-error.h"
#include "data/graft-fashion-mnist.h"
#include "data/graft-image-write.h"
#include "data/graft-demo-dataset.h"
#include "nn/graft-weights.h"
#include "nn/graft-model.h"
#include "nn/zoo/graft-zoo.h"
