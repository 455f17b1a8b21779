/* CKernels.h: umbrella header of the CKernels module. */
#ifndef CKERNELS_H
#define CKERNELS_H

#include "fg_quant.h"
#include "fg_ops.h"

#endif /* CKERNELS_H */
