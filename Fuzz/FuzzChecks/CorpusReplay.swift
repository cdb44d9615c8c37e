import Foundation

/// Replays corpus files through a fuzz check outside libFuzzer: the regression mode of the fuzz
/// executables in a normal build, and what `FuzzCorpusTests` runs.
public enum CorpusReplay {
    /// The regular files under `path` (recursively, sorted by path), or `path` itself when it
    /// is a file. Hidden files (`.gitkeep`) are skipped.
    public static func files(at path: String) throws -> [URL] {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        guard isDirectory.boolValue else { return [url] }
        let enumerator = FileManager.default.enumerator(
            at: url, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        var result: [URL] = []
        while let file = enumerator?.nextObject() as? URL {
            if (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                result.append(file)
            }
        }
        return result.sorted { $0.path < $1.path }
    }

    /// `main` of a fuzz executable built without `FUZZING`: replays every file under each
    /// command-line argument (files or folders) through `check` and prints one line per
    /// violation and a summary. Returns the exit status: 0 when every input passed, 1 when one
    /// violated an invariant, 2 on a usage or I/O error.
    public static func main(name: String, check: ([UInt8]) throws(InvariantViolation) -> Void) -> Int32 {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print("usage: \(name) CORPUS_DIR_OR_FILE...  (replays each input; build with -DFUZZING for libFuzzer)")
            return 2
        }
        var replayed = 0
        var failed = 0
        for path in paths {
            let files: [URL]
            do {
                files = try self.files(at: path)
            } catch {
                print("\(name): cannot read \(path): \(error.localizedDescription)")
                return 2
            }
            for file in files {
                guard let data = FileManager.default.contents(atPath: file.path) else {
                    print("\(name): cannot read \(file.path)")
                    return 2
                }
                replayed += 1
                do {
                    try check(Array(data))
                } catch {
                    failed += 1
                    print("\(name): FAILED \(file.path): \(error)")
                }
            }
        }
        print("\(name): replayed \(replayed) inputs, \(failed) failed")
        return failed == 0 ? 0 : 1
    }
}
