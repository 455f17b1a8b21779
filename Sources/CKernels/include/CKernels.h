/* CKernels.h: umbrella header of the CKernels module. */
#ifndef CKERNELS_H
#define CKERNELS_H

#include "fg_quant.h"
#include "fg_ops.h"
#include "fg_int8.h"
#include "fg_pool.h"
#include "fg_train.h"
#include "fg_cpu.h"
#include "fg_memory.h"

#endif /* CKERNELS_H */
