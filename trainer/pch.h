// Precompiled header for the trainer's translation units: LibTorch is heavy (~30 s a file without it).
#pragma once
#include <torch/torch.h>
