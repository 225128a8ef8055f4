// viewer.js -- the Three.js model view: orbit, pan, zoom, fit, grid, axes, visible edges.

import {
  AxesHelper, BufferAttribute, BufferGeometry, Color, DirectionalLight, DoubleSide, FrontSide, EdgesGeometry, GridHelper,
  Group, HemisphereLight, LineBasicMaterial, LineSegments, Mesh, MeshStandardMaterial,
  PerspectiveCamera, SRGBColorSpace, Scene, Sphere, Vector3, WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const MODEL_COLOR = 0xf2c94c;
const EDGE_COLOR = 0x3a3a3a;
const EDGE_ANGLE = 25;          // degrees between faces for an edge to be drawn
const EDGE_MAX_TRIANGLES = 400_000;

// Grid spacing for a model of this size: 1, 2 or 5 times a power of ten, about 10 cells across.
function gridStep(size) {
  const raw = Math.max(size, 1e-3) / 10;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}

// One WebGL context for every viewer that asks for it (the widgets: a page may hold dozens,
// and browsers keep about 16 contexts alive): it draws one viewer's scene at a time, at that
// viewer's size, and the picture is copied into the viewer's own 2D canvas.
let sharedRenderer = null;
function shared() {
  if (!sharedRenderer) {
    sharedRenderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    sharedRenderer.setPixelRatio(1);
  }
  return sharedRenderer;
}
// How many WebGL contexts the viewers made: one per page viewer, one for all shared ones.
export function webglContexts() {
  return (sharedRenderer ? 1 : 0) + ownContexts;
}
let ownContexts = 0;

// Splits a coloured triangle list into its opaque and its translucent triangles, with the
// colours made linear (Three.js lights in linear space) and the faces without one given the
// model colour.
function splitByAlpha(positions, colors) {
  const base = new Color(MODEL_COLOR);
  const lin = new Color();
  const out = { opaque: { p: [], c: [] }, clear: { p: [], c: [] } };
  for (let t = 0; t < positions.length / 9; t++) {
    const r = colors[t * 12], g = colors[t * 12 + 1], b = colors[t * 12 + 2], a = colors[t * 12 + 3];
    if (Number.isNaN(r)) lin.copy(base); else lin.setRGB(r, g, b, SRGBColorSpace);
    const side = a < 1 ? out.clear : out.opaque;
    for (let k = 0; k < 9; k++) side.p.push(positions[t * 9 + k]);
    for (let k = 0; k < 3; k++) side.c.push(lin.r, lin.g, lin.b, a);
  }
  const pack = (x) => ({ positions: Float32Array.from(x.p), colors: Float32Array.from(x.c) });
  return { opaque: pack(out.opaque), clear: pack(out.clear) };
}

export class Viewer {
  // options.shared: draw through the one shared WebGL context into a 2D canvas of its own.
  // options.background: the scene's background colour (a CSS colour string).
  constructor(container, { shared: useShared = false, background = '#eef1f5' } = {}) {
    this.container = container;
    this.shared = useShared;
    this.pixelRatio = Math.min(window.devicePixelRatio || 1, 2);
    if (useShared) {
      this.renderer = null;
      this.canvas = document.createElement('canvas');
      this.context2d = this.canvas.getContext('2d');
    } else {
      this.renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
      this.renderer.setPixelRatio(this.pixelRatio);
      this.canvas = this.renderer.domElement;
      ownContexts++;
    }
    this.canvas.className = 'viewer-canvas';
    container.appendChild(this.canvas);

    this.scene = new Scene();
    this.scene.background = new Color(background);
    this.camera = new PerspectiveCamera(40, 1, 0.01, 1e6);
    this.camera.up.set(0, 0, 1);          // OpenSCAD is Z-up
    this.camera.position.set(60, -90, 70);
    const headlight = new DirectionalLight(0xffffff, 1.6);
    headlight.position.set(0.3, 0.4, 1);
    this.camera.add(headlight);
    this.scene.add(this.camera);
    this.scene.add(new HemisphereLight(0xffffff, 0x667080, 1.4));

    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.screenSpacePanning = true;
    // Keyboard: Tab to the view, then the arrow keys pan (OrbitControls' keys).
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'The model (drag to turn, arrow keys to pan, scroll to zoom)');
    this.controls.listenToKeyEvents(this.canvas);
    this.controls.addEventListener('change', () => this.requestFrame());

    this.helpers = new Group();
    this.scene.add(this.helpers);
    this.model = new Group();
    this.scene.add(this.model);
    this.bounds = null;
    this.framePending = false;
    this.frames = 0;

    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.resize();
    this.#setHelpers(100);
  }

  resize() {
    const w = Math.max(1, this.container.clientWidth), h = Math.max(1, this.container.clientHeight);
    if (this.shared) {
      this.canvas.width = Math.round(w * this.pixelRatio);
      this.canvas.height = Math.round(h * this.pixelRatio);
    } else {
      this.renderer.setSize(w, h, false);
    }
    this.width = w;
    this.height = h;
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.requestFrame();
  }

  requestFrame() {
    if (this.framePending) return this.framePromise;
    this.framePending = true;
    this.framePromise = new Promise((resolve) => requestAnimationFrame(() => {
      this.framePending = false;
      this.draw();
      this.frames++;
      resolve();
    }));
    return this.framePromise;
  }

  // Draws the scene now.
  draw() {
    if (!this.shared) {
      this.renderer.render(this.scene, this.camera);
      return;
    }
    if (this.canvas.width === 0 || this.canvas.height === 0) return;
    const gl = shared();
    gl.setSize(this.canvas.width, this.canvas.height, false);
    gl.render(this.scene, this.camera);
    this.context2d.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.context2d.drawImage(gl.domElement, 0, 0);
  }

  // The picture as a PNG Blob (drawn afresh first).
  async toBlob(type = 'image/png') {
    this.draw();
    return new Promise((resolve) => this.canvas.toBlob(resolve, type));
  }

  // Lets go of what it holds (its own WebGL context, if any, its geometry, its observers).
  dispose() {
    this.clear();
    this.controls.dispose();
    this.resizeObserver?.disconnect();
    if (this.renderer) {
      this.renderer.dispose();
      this.renderer.forceContextLoss();
      ownContexts--;
    }
    this.canvas.remove();
  }

  #setHelpers(size) {
    for (const child of [...this.helpers.children]) {
      this.helpers.remove(child);
      child.geometry?.dispose();
      child.material?.dispose();
    }
    const step = gridStep(size);
    const cells = Math.max(10, Math.ceil((size * 1.6) / step / 2) * 2);
    const grid = new GridHelper(cells * step, cells, 0x9aa3b0, 0xcdd3db);
    grid.rotation.x = Math.PI / 2;        // into the XY plane
    grid.position.z = -step * 0.02;       // below z = 0, where 2D models lie
    this.helpers.add(grid);
    const axes = new AxesHelper(step * 3);
    axes.position.z = step * 0.002;
    this.helpers.add(axes);
    this.gridStep = step;
  }

  // Show a parsed STL ({positions, min, max}). Keeps the camera unless fit is true or this is
  // the first model. Resolves once the new mesh has been drawn.
  setModel(stl, { fit = false } = {}) {
    const first = !this.bounds;
    this.clear();
    const geometry = new BufferGeometry();
    geometry.setAttribute('position', new BufferAttribute(stl.positions, 3));
    geometry.computeVertexNormals();      // non-indexed: flat shading, one normal per face
    const material = (extra = {}) => new MeshStandardMaterial({
      color: MODEL_COLOR, roughness: 0.65, metalness: 0.05, flatShading: true, side: stl.flat ? DoubleSide : FrontSide,
      polygonOffset: true, polygonOffsetFactor: 1, polygonOffsetUnits: 1, ...extra,
    });
    if (stl.colors) {
      // color(): OpenSCAD's sRGB colours, one per face; a face without one in the model colour.
      // Translucent faces go into a mesh of their own, drawn after the opaque ones.
      const { opaque, clear } = splitByAlpha(stl.positions, stl.colors);
      for (const [part, transparent] of [[opaque, false], [clear, true]]) {
        if (!part.positions.length) continue;
        const g = new BufferGeometry();
        g.setAttribute('position', new BufferAttribute(part.positions, 3));
        g.setAttribute('color', new BufferAttribute(part.colors, 4));
        g.computeVertexNormals();
        const mesh = new Mesh(g, material({ color: 0xffffff, vertexColors: true, transparent, depthWrite: !transparent }));
        mesh.renderOrder = transparent ? 1 : 0;
        this.model.add(mesh);
      }
    } else {
      this.model.add(new Mesh(geometry, material()));
    }
    if (stl.triangles <= EDGE_MAX_TRIANGLES) {
      const edges = new LineSegments(new EdgesGeometry(geometry, EDGE_ANGLE),
        new LineBasicMaterial({ color: EDGE_COLOR, transparent: true, opacity: 0.55 }));
      this.model.add(edges);
    }
    if (stl.colors) geometry.dispose();   // only the edges were made from it
    // A model of another size (over twice or under half the last one's) is framed anew; a
    // small change keeps the camera where the user put it.
    const extent = (b) => Math.hypot(b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]);
    const before = this.bounds ? extent(this.bounds) : 0;
    this.bounds = { min: stl.min, max: stl.max };
    const after = extent(this.bounds);
    if (before > 0 && (after > 2 * before || after < before / 2)) fit = true;
    const size = Math.max(stl.max[0] - stl.min[0], stl.max[1] - stl.min[1], stl.max[2] - stl.min[2]);
    this.#setHelpers(Math.max(size, Math.abs(stl.min[0]), Math.abs(stl.max[0]), Math.abs(stl.min[1]), Math.abs(stl.max[1])));
    if (fit || first) this.fit();
    return this.requestFrame();
  }

  clear() {
    for (const child of [...this.model.children]) {
      this.model.remove(child);
      child.geometry.dispose();
      child.material.dispose();
    }
  }

  // Frame the model (or the grid when there is none) from the current viewing direction.
  fit() {
    const min = new Vector3(...(this.bounds?.min ?? [-50, -50, 0]));
    const max = new Vector3(...(this.bounds?.max ?? [50, 50, 50]));
    const sphere = new Sphere();
    sphere.center.copy(min).add(max).multiplyScalar(0.5);
    sphere.radius = Math.max(min.distanceTo(max) / 2, 1e-3);
    const dir = new Vector3().subVectors(this.camera.position, this.controls.target);
    if (dir.lengthSq() < 1e-12) dir.set(0.6, -0.9, 0.7);
    dir.normalize();
    const fov = (this.camera.fov * Math.PI) / 180;
    const fitFov = this.camera.aspect < 1 ? 2 * Math.atan(Math.tan(fov / 2) * this.camera.aspect) : fov;
    const distance = (sphere.radius / Math.sin(fitFov / 2)) * 1.25;
    this.controls.target.copy(sphere.center);
    this.camera.position.copy(sphere.center).addScaledVector(dir, distance);
    this.camera.near = distance / 1000;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    this.controls.update();
    this.requestFrame();
  }

  // Standard views: 'iso', 'top', 'front', 'right'.
  view(name) {
    const dirs = { iso: [0.6, -0.9, 0.7], top: [0, -1e-4, 1], front: [0, -1, 0], right: [1, 0, 0] };
    const d = dirs[name] ?? dirs.iso;
    this.camera.position.copy(this.controls.target).add(new Vector3(...d));
    this.fit();
  }

  setHelpersVisible(on) {
    this.helpers.visible = on;
    this.requestFrame();
  }
}
