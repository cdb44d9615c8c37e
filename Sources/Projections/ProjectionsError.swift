/// An error of the projections module, with a stable code that is safe to show a user.
public enum ProjectionsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No projector has this name.
    case unknownProjector(String)
    /// Another runner advanced the checkpoint first (the batch was not applied; retry).
    case checkpointMoved(String)
    /// A failure injected by a test between apply and commit.
    case injected(String)
    /// Another rebuild of this projector is running.
    case rebuildRunning(String)
    /// A case's stored document does not fit together (its cuts fall outside its body, or their
    /// statuses are missing): rebuild the `cases` read model.
    case malformedDocument(caseId: String)
    /// A projector was half-way through a batch written in parts at every try of a read-model
    /// check: there was no moment to compare at.
    case neverSettled

    /// A stable snake_case code.
    public var code: String {
        switch self {
        case .unknownProjector: return "unknown_projector"
        case .checkpointMoved: return "checkpoint_moved"
        case .injected: return "injected_failure"
        case .rebuildRunning: return "rebuild_running"
        case .malformedDocument: return "malformed_document"
        case .neverSettled: return "never_settled"
        }
    }

    public var description: String {
        switch self {
        case .unknownProjector(let name):
            return "no projector is named \(name) (known: \(Projectors.all.map(\.name).joined(separator: ", ")), all)"
        case .checkpointMoved(let name): return "the checkpoint of \(name) moved during the batch"
        case .injected(let what): return "injected failure: \(what)"
        case .rebuildRunning(let name): return "a rebuild of \(name) is already running"
        case .malformedDocument(let caseId): return "the stored document of case \(caseId) is malformed"
        case .neverSettled:
            return "a projector was half-way through a batch at every try: check the read models again later"
        }
    }
}
