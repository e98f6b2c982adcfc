// The libuv side of dns (issue 3: being written).
