package org.iomapfs.core;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The engine's packages are layered (fs-core/README.md): dependencies point down, from the {@link IomapFs}
 * facade to mm and control, xfs, buffered/dio/writeback, iomap, mount, inode and the leaves. A package cycle,
 * or a package that reaches back up to the facade, fails the build. The explorer ({@code explore}) sits above the
 * facade, a client of it as the daemon is; the engine reaches it only through its switch points ({@code sched}).
 */
class ArchitectureTest {
    private static final JavaClasses ENGINE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.iomapfs.core");

    @Test
    void noPackageCycle() {
        slices().matching("org.iomapfs.core.(*)..").should().beFreeOfCycles().check(ENGINE);
    }

    /** The root package (the facade and its wiring) is in no slice above, so it gets a rule of its own. */
    @Test
    void nothingBelowTheFacadeDependsOnIt() {
        noClasses().that().resideInAPackage("org.iomapfs.core.*..")
                .and().resideOutsideOfPackage("org.iomapfs.core.explore..")
                .should().dependOnClassesThat().resideInAPackage("org.iomapfs.core")
                .check(ENGINE);
    }

    @Test
    void engineKnowsTheExplorerOnlyThroughItsSwitchPoints() {
        noClasses().that().resideOutsideOfPackage("org.iomapfs.core.explore..")
                .should().dependOnClassesThat().resideInAPackage("org.iomapfs.core.explore..")
                .check(ENGINE);
    }
}
