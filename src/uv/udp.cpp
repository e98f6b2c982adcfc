// The libuv side of udp (issue 3: being written).
