#pragma once
// Blobs as streams: a producer writes a blob's bytes in order into a sink, so a model goes from
// its tensors' memory to a file, a socket or a hash without a whole second copy in between.
#include <cstddef>
#include <functional>

namespace fedsilo {

// Receives bytes in order. Throws to stop the stream (the producer lets the exception through).
using ByteSink = std::function<void(const char* data, size_t n)>;
// Writes a blob's bytes, in order, into the sink it is given.
using ByteProducer = std::function<void(const ByteSink& out)>;

}  // namespace fedsilo
