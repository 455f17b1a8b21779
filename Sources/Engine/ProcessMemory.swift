import CKernels

/// Memory housekeeping for long-lived processes.
public enum ProcessMemory {
    /// Returns the heap memory the C allocator keeps after frees to the system. glibc keeps freed
    /// blocks in its heap for reuse, so a process that stays alive between jobs (a deployed
    /// client's worker between rounds) would otherwise hold its last job's peak; on a VM that
    /// reports free pages to its host, it also leaves the other processes colder memory to fault in.
    /// Returns whether any was released.
    @discardableResult
    public static func releaseFreeHeap() -> Bool { fg_release_free_heap() != 0 }
}
