// The libuv side of fs (issue 3: being written).
