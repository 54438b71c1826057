// dropengine: simulation of dropout networks (Baldi & Sadowski, "The dropout
// learning algorithm", Artificial Intelligence 210, 2014). Umbrella header.
#pragma once
#include "dropengine/build_info.h"
#include "dropengine/ensemble.h"
#include "dropengine/enumerate.h"
#include "dropengine/errors.h"
#include "dropengine/gate.h"
#include "dropengine/network.h"
#include "dropengine/philox.h"
#include "dropengine/rng_streams.h"
#include "dropengine/sampler.h"
#include "dropengine/spiking.h"
#include "dropengine/stats.h"
#include "dropengine/train.h"
#include "dropengine/transfer.h"
